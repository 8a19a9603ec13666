import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { normalizeOptions } from './index.js';

function issuesOf(options: unknown, env: NodeJS.ProcessEnv = {}): { path: string; message: string }[] {
  try {
    normalizeOptions(options, [], env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

describe('normalizeOptions', () => {
  it('applies defaults', () => {
    const options = normalizeOptions({ service: 'orders' }, [], {});
    expect(options).toMatchObject({
      service: 'orders',
      version: undefined,
      logging: { level: 'info', redact: [] },
      invocation: { timeoutMs: 30_000, safetyMarginMs: 0 },
      middleware: [],
    });
  });

  it('takes the service name and version from the platform', () => {
    expect(
      normalizeOptions({}, [], { AWS_LAMBDA_FUNCTION_NAME: 'fn', AWS_LAMBDA_FUNCTION_VERSION: '$LATEST' }),
    ).toMatchObject({ service: 'fn', version: '$LATEST' });
    expect(
      normalizeOptions(undefined, [], { K_SERVICE: 'inventory', K_REVISION: 'inventory-00002' }),
    ).toMatchObject({
      service: 'inventory',
      version: 'inventory-00002',
    });
  });

  it('reads durations in every accepted spelling', () => {
    const options = normalizeOptions(
      { service: 's', invocation: { timeout: '1m', safetyMargin: 150 } },
      [],
      {},
    );
    expect(options.invocation).toEqual({ timeoutMs: 60_000, safetyMarginMs: 150, callerDeadline: false });
  });

  it('takes the log level from LOG_LEVEL unless the options set one', () => {
    expect(normalizeOptions({ service: 's' }, [], { LOG_LEVEL: 'DEBUG' }).logging.level).toBe('debug');
    expect(
      normalizeOptions({ service: 's', logging: { level: 'warn' } }, [], { LOG_LEVEL: 'debug' }).logging
        .level,
    ).toBe('warn');
  });

  it('names the field and the fix for a bad duration', () => {
    expect(issuesOf({ service: 's', invocation: { timeout: '2 sec' } })).toEqual([
      { path: 'invocation.timeout', message: '"2 sec" is not a duration; use "2s" or 2000' },
    ]);
    expect(() => normalizeOptions({ service: 's', invocation: { timeout: '2 sec' } }, [], {})).toThrow(
      'invocation.timeout: "2 sec" is not a duration; use "2s" or 2000',
    );
  });

  it('refuses unknown keys and suggests the one meant', () => {
    expect(issuesOf({ service: 's', loging: {} })).toEqual([
      { path: 'loging', message: 'unknown option; did you mean "logging"?' },
    ]);
    expect(issuesOf({ service: 's', invocation: { timeOut: '1s' } })[0]).toEqual({
      path: 'invocation.timeOut',
      message: 'unknown option; did you mean "timeout"?',
    });
    expect(issuesOf({ service: 's', zzz: 1 })[0]!.message).toContain('known keys: service, version, logging');
  });

  it('refuses options that are not an object', () => {
    expect(issuesOf('orders')[0]).toEqual({ path: '', message: 'expected an object, got "orders"' });
    expect(issuesOf([])[0]!.message).toBe('expected an object, got an array');
  });

  it('requires a service name when the platform gives none', () => {
    expect(issuesOf({})).toEqual([
      {
        path: 'service',
        message: 'is required when the platform does not name the function; set service: "orders"',
      },
    ]);
    expect(issuesOf({ service: '' })[0]!.path).toBe('service');
    expect(issuesOf({ service: 42 })[0]!.message).toBe(
      '42 is not a non-empty string; use the function name, for example "orders"',
    );
  });

  it('checks the version type', () => {
    expect(issuesOf({ service: 's', version: 3 })[0]!.path).toBe('version');
  });

  it('checks every logging field', () => {
    expect(issuesOf({ service: 's', logging: { level: 'loud' } })[0]).toEqual({
      path: 'logging.level',
      message:
        '"loud" is not allowed; use one of "fatal", "error", "warn", "info", "debug", "trace", "silent"',
    });
    expect(issuesOf({ service: 's', logging: { redact: 'password' } })[0]!.path).toBe('logging.redact');
    expect(issuesOf({ service: 's', logging: { redact: ['ok', 7] } })[0]!.path).toBe('logging.redact[1]');
    expect(issuesOf({ service: 's', logging: { destination: {} } })[0]).toEqual({
      path: 'logging.destination',
      message: 'expected an object with a write(line) method, such as a writable stream',
    });
    expect(issuesOf({ service: 's', logging: 'info' })[0]!.path).toBe('logging');
  });

  it('refuses an invalid LOG_LEVEL', () => {
    expect(issuesOf({ service: 's' }, { LOG_LEVEL: 'chatty' })[0]!.path).toBe('LOG_LEVEL');
  });

  it('checks invocation limits', () => {
    expect(issuesOf({ service: 's', invocation: { callerDeadline: 'yes' } })[0]).toEqual({
      path: 'invocation.callerDeadline',
      message: '"yes" is not a boolean; use true or false',
    });
    expect(issuesOf({ service: 's', invocation: 5 })[0]!.path).toBe('invocation');
    expect(issuesOf({ service: 's', invocation: { safetyMargin: -5 } })[0]!.path).toBe(
      'invocation.safetyMargin',
    );
  });

  it('checks middleware stages', () => {
    expect(issuesOf({ service: 's', middleware: {} })[0]!.path).toBe('middleware');
    expect(issuesOf({ service: 's', middleware: [{ http: () => null }] })[0]).toEqual({
      path: 'middleware[0]',
      message: 'a stage needs a non-empty name: { name: "my-stage", http(next) { … } }',
    });
    expect(issuesOf({ service: 's', middleware: [{ name: 'x' }] })[0]!.message).toContain('wraps nothing');
  });

  it('reports every problem at once', () => {
    const issues = issuesOf({ service: 1, logging: { level: 'x' }, invocation: { timeout: 'soon' } });
    expect(issues.map((issue) => issue.path)).toEqual(['service', 'logging.level', 'invocation.timeout']);
    expect(() => normalizeOptions({ service: 1, logging: { level: 'x' } }, [], {})).toThrow(
      /2 configuration problems/,
    );
  });

  it('never puts a secret-looking value in an error message', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dXJl';
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    const apiKey = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';
    for (const secret of [jwt, pem, apiKey]) {
      const cases: unknown[] = [
        { service: 's', invocation: { timeout: secret } },
        { service: 's', logging: { level: secret } },
        { service: 's', version: 7, logging: { redact: [secret, 1] } },
      ];
      for (const options of cases) {
        let message = '';
        try {
          normalizeOptions(options, [], { LOG_LEVEL: secret });
        } catch (error) {
          message = (error as Error).message;
        }
        expect(message).not.toBe('');
        expect(message).not.toContain(secret);
        expect(message).not.toContain(secret.slice(0, 20));
      }
    }
    expect(issuesOf({ service: 's', invocation: { timeout: apiKey } })[0]!.message).toBe(
      `a string of ${apiKey.length} characters (not shown) is not a duration; use "2s" or 2000`,
    );
  });
});
