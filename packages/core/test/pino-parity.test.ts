/**
 * The built-in writer against the real pino, as a property: seeded random calls (objects with
 * nested values, arrays, Unicode, numbers, errors, child bindings, format strings, levels) give
 * byte-identical lines from both, with pino configured as the mesh's line format (ISO time,
 * level labels, the service base) — the time field aside.
 */
import { createMesh } from '@sidecarless/core';
import { seeded } from '@sidecarless/testing';
import pino from 'pino';
import { expect, it } from 'vitest';

type Random = ReturnType<typeof seeded>;
const words = [
  'order',
  'sku',
  'qty',
  'naïve',
  'ключ',
  '注文',
  'emoji😀',
  'a b',
  'quote"d',
  'back\\slash',
  'new\nline',
];

function value(random: Random, depth: number): unknown {
  switch (random.next(depth > 2 ? 6 : 9)) {
    case 0:
      return random.pick(words);
    case 1:
      return random.next(1_000_000) - 500_000;
    case 2:
      return random.pick([0.1, 1.5e300, -0, 2.71, 1e-7, 2 ** 53 + 1]);
    case 3:
      return random.pick([true, false, null]);
    case 4:
      return random.pick(['', ' ', '\t', '\u2028', '\u0000x']);
    case 5:
      return random.pick([Number.NaN, Number.POSITIVE_INFINITY, undefined]);
    case 6:
      return Array.from({ length: random.next(4) }, () => value(random, depth + 1));
    default: {
      const out: Record<string, unknown> = {};
      for (let i = random.next(4); i > 0; i--) out[`${random.pick(words)}${i}`] = value(random, depth + 1);
      return out;
    }
  }
}

function reference(lines: string[], level: pino.LevelWithSilent) {
  return pino(
    {
      level,
      base: { service: 'orders' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    { write: (line: string) => void lines.push(line) },
  );
}

const masked = (line: string) => line.replace(/"time":"[^"]*"/, '"time":"T"');

const failure = Object.assign(new Error('card declined', { cause: new Error('processor down') }), {
  code: 'E_CARD',
  attempt: 2,
});
failure.stack = 'Error: card declined\n    at charge (payments.js:1:1)';
const cyclic: Record<string, unknown> = { name: 'loop' };
cyclic.self = cyclic;

it('writes the lines pino writes for 2,000 seeded random calls', () => {
  const random = seeded(0x70696e6f);
  const differences: string[] = [];
  let written = 0;
  for (let index = 0; index < 2_000; index++) {
    const ours: string[] = [];
    const theirs: string[] = [];
    const level = random.pick(['trace', 'debug', 'info', 'warn'] as const);
    const mesh = createMesh({
      service: 'orders',
      logging: { level, destination: { write: (line) => void ours.push(line) } },
    });
    const sides = [mesh.log, reference(theirs, level)] as const;
    const method = random.pick(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const);
    const fields = value(random, 0);
    const object =
      typeof fields === 'object' && fields !== null && !Array.isArray(fields) ? fields : { value: fields };
    const binding = random.next(3) === 0 ? { [`bound${index % 3}`]: value(random, 1) } : undefined;
    const shape = random.next(6);
    for (const logger of sides) {
      const target = binding ? (logger as { child(b: object): typeof logger }).child(binding) : logger;
      const log = (target as unknown as Record<string, (...args: unknown[]) => void>)[method]!.bind(target);
      if (shape === 0) log(object);
      else if (shape === 1) log(object, 'message %s and %d', random === undefined ? '' : 'x', 7);
      else if (shape === 2) log('just a message');
      else if (shape === 3) log({ ...object, nested: { deeper: object } }, 'nested');
      else if (shape === 4) log({ err: failure, ...object }, 'failed');
      else log({ loop: cyclic, ...object });
    }
    const a = ours.map(masked);
    const b = theirs.map(masked);
    written += a.length;
    if (JSON.stringify(a) !== JSON.stringify(b))
      differences.push(`case ${index}:\n  ours:   ${a[0]}\n  theirs: ${b[0]}`);
  }
  expect(differences.slice(0, 5)).toEqual([]);
  // Most calls were at or above their level: the comparison saw real lines.
  expect(written).toBeGreaterThan(1_000);
});
