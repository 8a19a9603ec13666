/**
 * A deliberately small option checker. `createMesh` runs it once per process, so it must cost
 * microseconds to import and to run (see bench/cold-start.bench.ts), and every message must name the
 * field and the fix — which is why this is a few functions rather than a schema library whose
 * messages we would have to rewrite anyway.
 */

import { parseDuration } from '../duration.js';
import type { ConfigIssue } from '../errors.js';

/** Collects the problems found while checking one options object. */
export class IssueList {
  readonly issues: ConfigIssue[] = [];
  add(path: string, message: string): undefined {
    this.issues.push({ path, message });
    return undefined;
  }
}

/** A checker returns the normalised value, or `undefined` after recording an issue. */
export type Checker<T> = (value: unknown, path: string, issues: IssueList) => T | undefined;

// Values are echoed in messages so the user sees what was wrong ("2 sec" is not a duration), but a
// value that could be a secret — long, token-shaped or key-shaped — is described, never shown:
// configuration errors end up in logs.
const secretShaped = /^ey[\w-]+\.|PRIVATE KEY|[A-Za-z0-9+/_=-]{20,}/;

export function describe(value: unknown): string {
  if (typeof value === 'string') {
    if (value.length > 32 || secretShaped.test(value))
      return `a string of ${value.length} characters (not shown)`;
    return JSON.stringify(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks that `value` is an object with only the `known` keys. Unknown keys are reported with
 * the closest known key, because a typo that silently turns a feature off is worse than an error.
 */
export function checkObject(
  value: unknown,
  path: string,
  issues: IssueList,
  known: readonly string[],
  /** A message for a key that is not known but means something (a feature not registered). */
  explain?: (key: string) => string | undefined,
): Record<string, unknown> | undefined {
  if (!isPlainObject(value)) return issues.add(path, `expected an object, got ${describe(value)}`);
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const explained = explain?.(key);
    if (explained !== undefined) {
      issues.add(join(path, key), explained);
      continue;
    }
    const guess = closest(key, known);
    const hint = guess ? `did you mean "${guess}"?` : `known keys: ${known.join(', ')}`;
    issues.add(join(path, key), `unknown option; ${hint}`);
  }
  return value;
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export const string =
  (hint = 'use a non-empty string'): Checker<string> =>
  (value, path, issues) =>
    typeof value === 'string' && value.length > 0
      ? value
      : issues.add(path, `${describe(value)} is not a non-empty string; ${hint}`);

export const boolean: Checker<boolean> = (value, path, issues) =>
  typeof value === 'boolean'
    ? value
    : issues.add(path, `${describe(value)} is not a boolean; use true or false`);

export const duration: Checker<number> = (value, path, issues) => {
  const ms = parseDuration(value);
  return ms === undefined ? issues.add(path, `${describe(value)} is not a duration; use "2s" or 2000`) : ms;
};

export const oneOf =
  <T extends string>(allowed: readonly T[]): Checker<T> =>
  (value, path, issues) =>
    typeof value === 'string' && (allowed as readonly string[]).includes(value)
      ? (value as T)
      : issues.add(
          path,
          `${describe(value)} is not allowed; use one of ${allowed.map((a) => `"${a}"`).join(', ')}`,
        );

export const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER): Checker<number> =>
  (value, path, issues) =>
    Number.isInteger(value) && (value as number) >= min && (value as number) <= max
      ? (value as number)
      : issues.add(path, `${describe(value)} is not a whole number from ${min} to ${max}`);

export const arrayOf =
  <T>(item: Checker<T>): Checker<T[]> =>
  (value, path, issues) => {
    if (!Array.isArray(value)) return issues.add(path, `expected an array, got ${describe(value)}`);
    const out: T[] = [];
    value.forEach((entry, index) => {
      const checked = item(entry, `${path}[${index}]`, issues);
      if (checked !== undefined) out.push(checked);
    });
    return out;
  };

/** Reads an optional field: absent stays `undefined`, present must pass `check`. */
export function optional<T>(
  object: Record<string, unknown>,
  key: string,
  path: string,
  issues: IssueList,
  check: Checker<T>,
): T | undefined {
  const value = object[key];
  return value === undefined ? undefined : check(value, join(path, key), issues);
}

function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3; // more than two edits away is not a typo
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
