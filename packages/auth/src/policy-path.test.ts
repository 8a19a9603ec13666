import { seeded } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import { policyPath } from './policy-path.js';

describe('policyPath (Istio DECODE_AND_MERGE_SLASHES)', () => {
  it.each([
    ['/orders/42', '/orders/42'],
    ['/public/..%2Fadmin', '/admin'],
    ['/public/..%2fadmin', '/admin'],
    ['/public/..%5Cadmin', '/admin'],
    ['/public\\..\\admin', '/admin'],
    ['/%61dmin', '/admin'],
    ['/a%2Db%5Fc%7Ed%2E', '/a-b_c~d.'],
    ['//admin', '/admin'],
    ['/a//b///c', '/a/b/c'],
    ['/a/./b/../c', '/a/c'],
    ['/../../admin', '/admin'],
    ['/a/%2e%2e/admin', '/admin'],
    ['/a/b/..', '/a/'],
    ['/a//../b', '/a/b'],
    ['/a%20b', '/a%20b'],
    ['/a%252Fb', '/a%252Fb'],
    ['/.hidden/x', '/.hidden/x'],
  ])('%s → %s', (raw, normal) => {
    expect(policyPath(raw)).toBe(normal);
  });

  it('refuses what it cannot evaluate', () => {
    expect(policyPath('/a%00b')).toBeUndefined();
    expect(policyPath('admin')).toBeUndefined();
    expect(policyPath('')).toBeUndefined();
  });

  it('leaves no runs of slashes, backslashes or dot segments (fixed-seed random paths)', () => {
    const { next } = seeded(42);
    const parts = ['a', '..', '.', '', '%2F', '%5C', '\\', '%2e', '%2E%2E', '%41', '%25', 'b'];
    for (let i = 0; i < 2_000; i++) {
      let path = '';
      for (let n = 1 + next(6); n > 0; n--) path += `/${parts[next(parts.length)]}`;
      const once = policyPath(path)!;
      expect(once.startsWith('/'), path).toBe(true);
      expect(once, path).not.toMatch(/\/\/|\\|(^|\/)\.\.?(\/|$)/);
      // Decoding is single-pass, so a second pass may decode what the first produced (%25 2F):
      // only the shapes above are promised.
    }
  });
});
