import { describe, expect, it } from 'vitest';
import { checkedAuthority, targetUrl } from './authority.js';

describe('checkedAuthority', () => {
  it.each([
    'localhost',
    'localhost:8080',
    'localhost:0',
    'localhost:65535',
    'x:',
    '10.0.0.1:80',
    '[::1]',
    '[::1]:443',
    '[2001:db8::7]',
    'orders.shop.svc.cluster.local',
  ])('accepts %s', (host) => {
    expect(checkedAuthority(host)).toBe(host);
  });

  it.each([
    ['', /empty/],
    ['localhost/public/x?', /only a host/],
    ['evil#', /only a host/],
    ['h?x', /only a host/],
    ['u:p@h', /credentials/],
    ['localhost:65536', /above 65535/],
    ['localhost:99999', /above 65535/],
    ['h:1:2', /only a host/],
    ['[::1', /only a host/],
    ['[zz::1]', /only a host/],
    ['[1.2.3.4]', /not IPv6/],
    ['h%2F', /only a host/],
    ['a b', /only a host/],
    ['h\\x', /only a host/],
  ])('refuses %j with a 400 naming the problem', (host, reason) => {
    expect(() => checkedAuthority(host)).toThrow(reason);
    try {
      checkedAuthority(host);
    } catch (error) {
      expect(error).toMatchObject({ status: 400, code: 'SCL_ERR_BAD_REQUEST', expose: true });
    }
  });
});

describe('targetUrl', () => {
  it('builds the URL from the connection scheme, the checked Host and the target', () => {
    expect(targetUrl('http', 'orders:8080', '/v1/orders?x=1')).toBe('http://orders:8080/v1/orders?x=1');
    expect(targetUrl('https', undefined, '/')).toBe('https://localhost/');
  });

  it('takes the authority, never the scheme, from an absolute-form target', () => {
    expect(targetUrl('http', 'ignored', 'https://orders/v1')).toBe('http://orders/v1');
    expect(targetUrl('http', 'ignored', 'HTTP://orders?q')).toBe('http://orders/?q');
    expect(targetUrl('https', undefined, 'http://orders')).toBe('https://orders/');
  });

  it('refuses other target forms and invalid authorities in the target', () => {
    for (const target of [
      '*',
      'orders:443',
      'ftp://orders/x',
      'http://u:p@orders/x',
      'http://orders:70000/',
    ]) {
      expect(() => targetUrl('http', 'h', target), target).toThrow(/request target|Host header/);
    }
  });
});
