import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { toRequest } from './request.js';

/** The parts of an `IncomingMessage` toRequest reads, for a bodiless GET. */
function incoming(target: string, host: string): IncomingMessage {
  return {
    url: target,
    method: 'GET',
    headers: { host },
    rawHeaders: ['Host', host],
    socket: {},
  } as unknown as IncomingMessage;
}

function expected(target: string, host: string): string {
  return new URL(`http://${host}${target}`).href;
}

// Characters that matter to the URL parser: dots and dot segments (plain and encoded), escapes,
// characters it encodes in a path or a query, separators.
const pieces = [
  'a',
  'B',
  '0',
  '-',
  '_',
  '~',
  '.',
  '..',
  '/',
  '//',
  '%2e',
  '%2E',
  '%41',
  '%zz',
  '%',
  '?',
  '&',
  '=',
  "'",
  '"',
  ' ',
  '<',
  '>',
  '`',
  '{',
  '}',
  '|',
  '\\',
  '^',
  ';',
  ':',
  '@',
  '!',
  '$',
  '(',
  ')',
  '*',
  '+',
  ',',
  'é',
  '#',
];
const hosts = [
  'localhost',
  'localhost:8080',
  'LOCALHOST',
  'example.com:80',
  'a.b.c:0080',
  '127.0.0.1:3000',
  'h.',
];

describe('toRequest URL', () => {
  it('is exactly what the URL parser makes of the target, fast path or not', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    let checked = 0;
    for (let i = 0; i < 20_000; i++) {
      let target = '/';
      const length = 1 + random(8);
      for (let j = 0; j < length; j++) target += pieces[random(pieces.length)];
      const host = hosts[random(hosts.length)]!;
      let want: string;
      try {
        want = expected(target, host);
      } catch {
        continue;
      }
      expect(toRequest(incoming(target, host), 1_000).url, `${host} ${target}`).toBe(want);
      checked++;
    }
    expect(checked).toBeGreaterThan(15_000);
  });
});
