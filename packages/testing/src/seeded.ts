/**
 * A seeded pseudo-random source for fuzz tests (xorshift32): the same seed gives the same cases
 * on every run and runtime, so a failure names its case and reproduces.
 *
 * @example
 * ```ts
 * import { seeded } from '@sidecarless/testing';
 *
 * const random = seeded(0x5eed);
 * const host = random.pick(['a.test', 'b.test']);
 * const count = random.next(4); // 0–3
 * ```
 */
export function seeded(seed: number): { next(n: number): number; pick<T>(items: readonly T[]): T } {
  let state = seed | 0 || 1; // xorshift never leaves 0
  const next = (n: number): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  return { next, pick: (items) => items[next(items.length)]! };
}
