import { captureLogs } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { normalizeOptions } from './options/index.js';

describe("logging under Lambda's Advanced Logging Controls", () => {
  it('takes the level from AWS_LAMBDA_LOG_LEVEL over LOG_LEVEL', () => {
    const logs = captureLogs();
    const options = normalizeOptions({ service: 's', logging: { destination: logs.destination } }, [], {
      AWS_LAMBDA_LOG_LEVEL: 'WARN',
      LOG_LEVEL: 'debug',
    });
    const log = createLogger(options);
    log.info('dropped');
    log.warn('kept');
    expect(logs.lines().map((line) => line.msg)).toEqual(['kept']);
  });

  it("writes Lambda's upper-case level names under AWS_LAMBDA_LOG_FORMAT=JSON", () => {
    const logs = captureLogs();
    const options = normalizeOptions({ service: 's', logging: { destination: logs.destination } }, [], {
      AWS_LAMBDA_LOG_FORMAT: 'JSON',
    });
    createLogger(options).error('boom');
    expect(logs.lines()[0]).toMatchObject({ level: 'ERROR', msg: 'boom' });
  });

  it('names AWS_LAMBDA_LOG_LEVEL when its value is not a level', () => {
    expect(() => normalizeOptions({ service: 's' }, [], { AWS_LAMBDA_LOG_LEVEL: 'LOUD' })).toThrow(
      /AWS_LAMBDA_LOG_LEVEL: "LOUD" is not a log level/,
    );
  });
});
