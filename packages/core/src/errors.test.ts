import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ConfigError, isSidecarlessError, SidecarlessError } from './errors.js';

describe('SidecarlessError', () => {
  it('carries a code, a status, expose and the cause', () => {
    const cause = new TypeError('bad key');
    const error = new SidecarlessError('SCL_ERR_JWT_INVALID', 'invalid token', { status: 401, cause });
    expect(error).toMatchObject({
      code: 'SCL_ERR_JWT_INVALID',
      status: 401,
      expose: true,
      cause,
      name: 'SidecarlessError',
    });
    expect(new SidecarlessError('SCL_ERR_X', 'boom').expose).toBe(false);
    expect(new SidecarlessError('SCL_ERR_X', 'boom').status).toBe(500);
  });

  it('is recognised across a second copy of the package', () => {
    const built = new URL('../dist/cjs/errors.js', import.meta.url);
    expect(existsSync(built), 'run `pnpm build` first: this test loads the CommonJS build').toBe(true);
    const other = createRequire(import.meta.url)(built.pathname) as typeof import('./errors.js');
    expect(other.SidecarlessError).not.toBe(SidecarlessError);
    const foreign = new other.SidecarlessError('SCL_ERR_X', 'from the other copy', { status: 400 });
    expect(foreign instanceof SidecarlessError).toBe(true);
    expect(isSidecarlessError(foreign)).toBe(true);
    expect(new other.ConfigError([{ path: 'a', message: 'b' }]) instanceof SidecarlessError).toBe(true);
    expect(new Error('plain') instanceof SidecarlessError).toBe(false);
    expect(isSidecarlessError(null)).toBe(false);
  });

  it('recognises each subclass across a second copy, and only that subclass', () => {
    const require = createRequire(import.meta.url);
    const other = require(
      new URL('../dist/cjs/errors.js', import.meta.url).pathname,
    ) as typeof import('./errors.js');
    const config = new other.ConfigError([{ path: 'a', message: 'b' }]);
    expect(config instanceof ConfigError).toBe(true);
    expect(config instanceof SidecarlessError).toBe(true);
    expect(new other.SidecarlessError('SCL_ERR_X', 'x') instanceof ConfigError).toBe(false);
    // UpstreamError, a subclass in another package: packages/outbound/test/errors.test.ts.
  });

  it('leaves a user subclass with ordinary instanceof', () => {
    class PaymentError extends SidecarlessError {}
    expect(new PaymentError('SCL_ERR_PAY', 'no') instanceof PaymentError).toBe(true);
    expect(new SidecarlessError('SCL_ERR_PAY', 'no') instanceof PaymentError).toBe(false);
    expect(new ConfigError([{ path: 'a', message: 'b' }]) instanceof PaymentError).toBe(false);
  });

  it('keeps ordinary instanceof for subclasses', () => {
    expect(new ConfigError([{ path: 'a', message: 'b' }])).toBeInstanceOf(ConfigError);
    expect(new SidecarlessError('SCL_ERR_X', 'x') instanceof ConfigError).toBe(false);
  });
});
