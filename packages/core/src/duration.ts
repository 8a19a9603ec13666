/**
 * A span of time in options: milliseconds as a number, or a string with units —
 * `"150ms"`, `"2s"`, `"1m"`, `"1h"`, or Go-style combinations such as `"1m30s"`.
 */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}` | (string & {});

const unitMs: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const wholePattern = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const partPattern = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * Parses a {@link Duration} into milliseconds, or returns `undefined` when it is not one.
 * Numbers are milliseconds; a bare numeric string is refused because its unit is ambiguous.
 *
 * @example
 * ```ts
 * import { parseDuration } from '@sidecarless/core';
 *
 * parseDuration('1m30s'); // 90000
 * parseDuration(250);     // 250
 * parseDuration('2 sec'); // undefined
 * ```
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !wholePattern.test(value)) return undefined;
  let total = 0;
  for (const match of value.matchAll(partPattern)) total += Number(match[1]) * unitMs[match[2]!]!;
  return total;
}
