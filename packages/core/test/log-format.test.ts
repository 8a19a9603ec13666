/**
 * The log line format. The mesh wrote its lines with pino until its import cost was measured
 * (logger.ts); log pipelines parse that format, so this test replays a battery of calls
 * (fixtures/log-calls.mjs) and compares every line with the one pino wrote for the same call
 * (fixtures/log-lines.json, recorded from the pino-based logger; the time is masked).
 */
import { readFileSync } from 'node:fs';
import { createMesh } from '@sidecarless/core';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module shared with the script that recorded the expectations.
import { calls } from './fixtures/log-calls.mjs';

const expected = JSON.parse(
  readFileSync(new URL('./fixtures/log-lines.json', import.meta.url), 'utf8'),
) as Record<string, string[]>;
type Call = [string, (log: ReturnType<typeof createMesh>['log']) => void];

function linesOf(call: Call[1]): string[] {
  const lines: string[] = [];
  const mesh = createMesh({
    service: 'orders',
    version: '1.2.0',
    logging: {
      level: 'debug',
      redact: ['card.number'],
      destination: { write: (line) => void lines.push(line) },
    },
  });
  call(mesh.log);
  return lines.map((line) => line.replace(/"time":"[^"]*"/, '"time":"T"'));
}

describe('log lines', () => {
  afterEach(() => {
    delete process.env.AWS_LAMBDA_LOG_FORMAT;
  });

  for (const [name, call] of calls as Call[]) {
    it(`are written as before for: ${name}`, () => {
      expect(linesOf(call)).toEqual(expected[name]);
    });
  }

  it('use Lambda’s upper-case level names under AWS_LAMBDA_LOG_FORMAT=JSON', () => {
    process.env.AWS_LAMBDA_LOG_FORMAT = 'JSON';
    for (const name of ['message only', 'every level']) {
      const call = (calls as Call[]).find(([callName]) => callName === name)![1];
      expect(linesOf(call)).toEqual(expected[`JSON format: ${name}`]);
    }
  });

  it('carry a time Fluentd’s `%Y-%m-%dT%H:%M:%S.%NZ` parses', () => {
    const lines: string[] = [];
    const mesh = createMesh({
      service: 's',
      logging: { destination: { write: (line) => void lines.push(line) } },
    });
    mesh.log.info('now');
    expect(JSON.parse(lines[0]!).time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});
