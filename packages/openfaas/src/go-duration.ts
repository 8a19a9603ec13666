/**
 * Go `time.ParseDuration` syntax, as the of-watchdog reads `exec_timeout`, `write_timeout` and
 * friends: `10s`, `1m30s`, `1.5h`, `300ms`, `100us`. A bare number is seconds (the watchdog
 * accepts it for backwards compatibility). Returns milliseconds, or undefined when invalid.
 */
const unitMs: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};
const whole =
  /^(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))*$/;
const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g;

/**
 * Parses a Go duration (or plain seconds) into milliseconds.
 *
 * @example
 * ```ts
 * import { parseGoDuration } from '@sidecarless/openfaas';
 *
 * parseGoDuration('1m30s'); // 90000
 * parseGoDuration('10');    // 10000 (plain seconds)
 * parseGoDuration('soon');  // undefined
 * ```
 */
export function parseGoDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Number(text) * 1_000;
  if (text === '0') return 0;
  if (!whole.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(part)) total += Number(match[1]) * unitMs[match[2]!]!;
  return total;
}
