/**
 * Token buckets kept in this instance: one per descriptor value, refilled continuously (a
 * fraction of a fill is credited as time passes, so a limit of 100 per minute lets one request
 * through every 600 ms after a burst, not 100 at the top of each minute). A check is a map
 * lookup and a few additions: ~0.1 µs (bench/rate-limits.bench.ts).
 */
import type { TokenBucketSpec } from '@sidecarless/core';

/** What a check decided. */
export interface Verdict {
  readonly allowed: boolean;
  /** Whole tokens left after this check. */
  readonly remaining: number;
  /** Milliseconds until one token is back (0 when one is there now). */
  readonly retryAfterMs: number;
}

interface BucketState {
  tokens: number;
  at: number;
}

/** Tokens per millisecond. */
export const rateOf = (bucket: TokenBucketSpec): number => bucket.tokensPerFill / bucket.fillIntervalMs;

/**
 * Milliseconds until `tokens` reaches 1. Multiplied out rather than divided by the rate: 1 per
 * hour as a rate is 2.77…e-7 per ms, and dividing by it gave 3,600,001 ms, a second too many.
 */
export const msUntilToken = (tokens: number, bucket: TokenBucketSpec): number =>
  Math.ceil(((1 - tokens) * bucket.fillIntervalMs) / bucket.tokensPerFill - 1e-9);

/** The local buckets of one limit, by descriptor value, at most `maxKeys` of them. */
export class LocalBuckets {
  readonly #states = new Map<string, BucketState>();
  readonly #maxKeys: number;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#states.size;
  }

  /** Takes one token from `key`'s bucket, if it has one. */
  take(key: string, bucket: TokenBucketSpec, now: number): Verdict {
    let state = this.#states.get(key);
    if (state === undefined) {
      // A key seen for the first time starts full. Past the cap the oldest key goes: a bucket
      // forgotten that way starts full again — the price of bounded memory under a flood of
      // distinct addresses.
      if (this.#states.size >= this.#maxKeys) this.#states.delete(this.#states.keys().next().value as string);
      state = { tokens: bucket.maxTokens, at: now };
      this.#states.set(key, state);
    } else if (now > state.at) {
      state.tokens = Math.min(bucket.maxTokens, state.tokens + (now - state.at) * rateOf(bucket));
      state.at = now;
    }
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return { allowed: true, remaining: Math.floor(state.tokens), retryAfterMs: 0 };
    }
    return { allowed: false, remaining: 0, retryAfterMs: msUntilToken(state.tokens, bucket) };
  }
}

/** Tokens taken from the shared bucket in a batch, spent here until they lapse. */
interface Lease {
  tokens: number;
  until: number;
}

/** How long leased tokens stay spendable: past it they lapse, so the fleet's total holds. */
export const leaseLifetimeMs = 1_000;

/** The leases of one shared limit, by descriptor value. */
export class Leases {
  readonly #leases = new Map<string, Lease>();
  /** The batch take in flight per key: checks that find the lease empty meanwhile wait for it. */
  readonly #taking = new Map<string, Promise<unknown>>();
  readonly #maxKeys: number;

  constructor(maxKeys: number) {
    this.#maxKeys = maxKeys;
  }

  /** Spends one leased token of `key`, if one is left and has not lapsed. */
  spend(key: string, now: number): boolean {
    const lease = this.#leases.get(key);
    if (lease === undefined || lease.tokens < 1 || now >= lease.until) return false;
    lease.tokens -= 1;
    return true;
  }

  /** Keeps `tokens` more of `key` (what a batch take granted beyond the one spent now). */
  keep(key: string, tokens: number, now: number): void {
    if (tokens < 1) return;
    const lease = this.#leases.get(key);
    if (lease !== undefined && now < lease.until) {
      lease.tokens += tokens;
      lease.until = now + leaseLifetimeMs;
      return;
    }
    if (lease === undefined && this.#leases.size >= this.#maxKeys)
      this.#leases.delete(this.#leases.keys().next().value as string);
    this.#leases.set(key, { tokens, until: now + leaseLifetimeMs });
  }

  /** The batch take in flight for `key`, if any. */
  taking(key: string): Promise<unknown> | undefined {
    return this.#taking.get(key);
  }

  /**
   * Marks `take` as the batch in flight for `key` until it settles. One take per key at a time:
   * without it, every check that arrives while the lease is empty and a take is on its way makes
   * a round trip of its own (86% answered locally at 1,000/s with a lease of 10, not 90%).
   */
  track(key: string, take: Promise<unknown>): void {
    this.#taking.set(key, take);
    const clear = () => {
      if (this.#taking.get(key) === take) this.#taking.delete(key);
    };
    take.then(clear, clear);
  }
}
