import { describe, expect, it } from 'vitest';
import { SidecarlessError } from './errors.js';
import { createLazyHeaders, headersFromPairs, realHeaders } from './lazy-headers.js';

const pairs = [
  'Host',
  'example.com',
  'Accept',
  'text/html',
  'accept',
  'application/json',
  'Cookie',
  'a=1',
  'cookie',
  'b=2',
  'X-Padded',
  ' \t spaced out \t ',
  'Set-Cookie',
  'c=3',
  'set-cookie',
  'd=4',
  'X-Empty',
  '',
];
const probes = ['host', 'HOST', 'accept', 'cookie', 'x-padded', 'set-cookie', 'x-empty', 'x-missing'];

describe('lazy headers', () => {
  it('answer get and has exactly as Headers built from the same list', () => {
    const lazy = createLazyHeaders(pairs);
    const real = headersFromPairs(pairs);
    for (const name of probes) {
      expect(lazy.get(name), name).toBe(real.get(name));
      expect(lazy.has(name), name).toBe(real.has(name));
    }
    expect(lazy).toBeInstanceOf(Headers);
  });

  it('walk, change and hand over like the real Headers', () => {
    const lazy = createLazyHeaders(pairs);
    const real = headersFromPairs(pairs);
    expect([...lazy]).toEqual([...real]);
    expect(lazy.getSetCookie()).toEqual(['c=3', 'd=4']);
    lazy.set('x-added', 'yes');
    lazy.delete('accept');
    expect(lazy.get('x-added')).toBe('yes');
    expect(lazy.has('accept')).toBe(false);
    expect(new Headers(lazy).get('x-added')).toBe('yes');
    const request = new Request('http://localhost/', { headers: lazy });
    expect(request.headers.get('x-added')).toBe('yes');
    expect(realHeaders(lazy)).toBeInstanceOf(Headers);
  });

  it('set and delete on the list itself, answering as Headers does after the same edits', () => {
    const lazy = createLazyHeaders(pairs);
    const real = headersFromPairs(pairs);
    for (const headers of [lazy, real]) {
      headers.delete('ACCEPT');
      headers.delete('x-missing');
      headers.set('Cookie', ' \t only=1 \r\n');
      headers.set('X-New', 'v');
    }
    for (const name of [...probes, 'x-new']) {
      expect(lazy.get(name), name).toBe(real.get(name));
      expect(lazy.has(name), name).toBe(real.has(name));
    }
    expect([...lazy]).toEqual([...real]);
  });

  it('refuse in set and delete what Headers refuses, with a TypeError', () => {
    const lazy = createLazyHeaders(['host', 'example.com']);
    for (const headers of [lazy, new Headers()]) {
      expect(() => headers.delete('not a token')).toThrow(TypeError);
      expect(() => headers.set('not a token', 'v')).toThrow(TypeError);
      expect(() => headers.set('x-ok', 'line\nbreak')).toThrow(TypeError);
      expect(() => headers.set('x-ok', 'a\0b')).toThrow(TypeError);
    }
    expect(lazy.get('host')).toBe('example.com');
  });

  it('refuse a value Fetch refuses with a 400 when it is read', () => {
    for (const bad of [
      ['x-ok', 'line\r\nbreak'],
      ['x-nul', 'a\0b'],
    ]) {
      const lazy = createLazyHeaders(['host', 'example.com', ...bad]);
      expect(lazy.get('host')).toBe('example.com');
      expect(() => lazy.get(bad[0]!)).toThrow(SidecarlessError);
      expect(() => lazy.has(bad[0]!)).toThrow(SidecarlessError);
    }
  });

  it('refuse any invalid pair with a 400 once the headers are walked or handed on', () => {
    for (const bad of [
      ['bad name', 'v'],
      ['x-ok', 'line\r\nbreak'],
    ]) {
      let thrown: unknown;
      try {
        [...createLazyHeaders(['host', 'example.com', ...bad])];
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(SidecarlessError);
      expect((thrown as SidecarlessError).status).toBe(400);
      expect(() => new Request('http://localhost/', { headers: createLazyHeaders(bad) })).toThrow(
        SidecarlessError,
      );
    }
  });

  it('refuse to look up a name that is not a token, as Headers.get does', () => {
    const lazy = createLazyHeaders(['host', 'example.com']);
    expect(() => lazy.get('not a token')).toThrow(TypeError);
    expect(() => new Headers().get('not a token')).toThrow(TypeError);
  });
});
