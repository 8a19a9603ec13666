import { createRequire } from 'node:module';
import { ConfigError, SidecarlessError } from '@sidecarless/core';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../src/index.ts';

describe('UpstreamError', () => {
  it('is recognised across the ESM and CommonJS copies, and only as itself', () => {
    const require = createRequire(import.meta.url);
    const other = require(
      new URL('../dist/cjs/errors.js', import.meta.url).pathname,
    ) as typeof import('../src/errors.ts');
    const upstream = new other.UpstreamError({
      code: 'SCL_ERR_UPSTREAM_TIMEOUT',
      upstream: 'stock',
      kind: 'timeout',
      message: 'timed out',
    });
    expect(upstream instanceof UpstreamError).toBe(true);
    expect(upstream instanceof SidecarlessError).toBe(true);
    expect(upstream instanceof ConfigError).toBe(false);
    expect(new ConfigError([{ path: 'a', message: 'b' }]) instanceof UpstreamError).toBe(false);
    expect(upstream.message).toBe('upstream "stock": timed out');
    expect(upstream.status).toBe(502);
  });
});
