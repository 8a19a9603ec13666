/**
 * Limits on outbound calls (`upstreams.<name>.rateLimit`): a partner API's quota of 100
 * requests per second for the whole fleet. Each attempt takes a token; over the limit it waits
 * for one up to the call's deadline, or fails at once with `wait: false` — an error that names
 * the upstream, the limit and when to retry.
 */
import type { CallLimiter, SharedStore, SharedStoreProvider, TokenBucketSpec } from '@sidecarless/core';
import { ConfigError, SidecarlessError } from '@sidecarless/core';
import {
  boolean,
  checkObject,
  type IssueList,
  integer,
  join,
  oneOf,
  optional,
} from '@sidecarless/core/feature';
import { Leases, LocalBuckets } from './buckets.js';
import { checkSize, describeBucket, type NormalizedRateLimits } from './options.js';

/** `upstreams.<name>.rateLimit`. */
export interface CallLimitOptions {
  requests?: number;
  per?: 'second' | 'minute' | 'hour' | string | number;
  tokenBucket?: { maxTokens: number; tokensPerFill?: number; fillInterval: string | number };
  /** `local` (default) or `shared` (every instance, through `@sidecarless/redis`). */
  scope?: 'local' | 'shared';
  /** `shared` only: tokens taken per round trip. Default 1. */
  lease?: number;
  /** Wait for a token up to the call's deadline (default), or fail at once. */
  wait?: boolean;
}

export interface NormalizedCallLimit {
  readonly bucket: TokenBucketSpec;
  readonly scope: 'local' | 'shared';
  readonly lease: number;
  readonly wait: boolean;
}

export function checkCallLimit(
  value: unknown,
  path: string,
  issues: IssueList,
): NormalizedCallLimit | undefined {
  const input = checkObject(value, path, issues, [
    'requests',
    'per',
    'tokenBucket',
    'scope',
    'lease',
    'wait',
  ]);
  if (!input) return undefined;
  const bucket = checkSize(input, path, issues);
  const scope = optional(input, 'scope', path, issues, oneOf(['local', 'shared'] as const)) ?? 'local';
  if (input.lease !== undefined && scope !== 'shared')
    issues.add(join(path, 'lease'), 'applies to scope: "shared" only; remove it or set scope: "shared"');
  const lease = optional(input, 'lease', path, issues, integer(1, 10_000)) ?? 1;
  const wait = optional(input, 'wait', path, issues, boolean) ?? true;
  return bucket ? { bucket, scope, lease, wait } : undefined;
}

/** The error of a call over its upstream's limit. */
export class UpstreamRateLimitedError extends SidecarlessError {
  readonly upstream: string;
  readonly retryAfterMs: number;
  constructor(upstream: string, bucket: TokenBucketSpec, retryAfterMs: number, waited: boolean) {
    super(
      'SCL_ERR_UPSTREAM_RATE_LIMITED',
      `calls to upstream "${upstream}" are over its rate limit (${describeBucket(bucket)}); ${
        waited ? 'no token came before the deadline' : 'wait is false'
      }; the next token is ${Math.ceil(retryAfterMs)} ms away`,
      { status: 503, headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } },
    );
    this.upstream = upstream;
    this.retryAfterMs = retryAfterMs;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class UpstreamCallLimiter implements CallLimiter {
  readonly #limit: NormalizedCallLimit;
  readonly #upstream: string;
  readonly #local = new LocalBuckets(1);
  readonly #leases = new Leases(1);
  readonly #store: SharedStore | undefined;
  readonly #key: string;
  readonly #failureMode: 'open' | 'closed';
  readonly #clock: () => number;

  constructor(
    limit: NormalizedCallLimit,
    upstream: string,
    service: string,
    store: SharedStore | undefined,
    failureMode: 'open' | 'closed',
    clock: () => number = Date.now,
  ) {
    this.#limit = limit;
    this.#upstream = upstream;
    this.#store = store;
    this.#failureMode = failureMode;
    this.#clock = clock;
    this.#key = `rl:${service}:upstream:${upstream}`;
  }

  async acquire(deadline: number): Promise<void> {
    for (;;) {
      const retryAfterMs = await this.#take();
      if (retryAfterMs === 0) return;
      const now = this.#clock();
      if (!this.#limit.wait || now + retryAfterMs > deadline)
        throw new UpstreamRateLimitedError(
          this.#upstream,
          this.#limit.bucket,
          retryAfterMs,
          this.#limit.wait,
        );
      await sleep(retryAfterMs);
    }
  }

  /** 0 when a token was taken; otherwise how long until the next one. */
  async #take(): Promise<number> {
    const now = this.#clock();
    const bucket = this.#limit.bucket;
    if (this.#limit.scope === 'local') return this.#local.take('*', bucket, now).retryAfterMs;
    if (this.#leases.spend('*', now)) return 0;
    try {
      if (!this.#store) throw new Error('no shared store');
      const grant = await this.#store.take(this.#key, bucket, this.#limit.lease);
      if (grant.granted < 1) return Math.max(1, grant.retryAfterMs);
      this.#leases.keep('*', grant.granted - 1, this.#clock());
      return 0;
    } catch (error) {
      if (error instanceof UpstreamRateLimitedError) throw error;
      if (this.#failureMode === 'closed')
        throw new SidecarlessError(
          'SCL_ERR_RATE_LIMIT_UNAVAILABLE',
          `the shared limit of upstream "${this.#upstream}" cannot be checked (Redis did not answer; failure mode closed)`,
          { status: 503, cause: error },
        );
      return this.#local.take('*', bucket, this.#clock()).retryAfterMs;
    }
  }
}

/** The limiter of one upstream, with the store and failure mode of this mesh. */
export function createCallLimiter(
  checked: unknown,
  upstream: string,
  host: {
    readonly service: string;
    feature(name: string): { readonly feature: unknown; readonly section: unknown } | undefined;
  },
): CallLimiter {
  const limit = checked as NormalizedCallLimit;
  const section = host.feature('rateLimits')?.section as NormalizedRateLimits | undefined;
  let store: SharedStore | undefined;
  if (limit.scope === 'shared') {
    const registered = host.feature('redis');
    const provider = registered?.feature as Partial<SharedStoreProvider> | undefined;
    if (!provider?.sharedStore || registered?.section === undefined)
      throw new ConfigError([
        {
          path: `upstreams.${upstream}.rateLimit.scope`,
          message:
            "\"shared\" needs shared state: add import { redis } from '@sidecarless/redis', pass it to createMesh and set redis: { url: 'redis://…' }",
        },
      ]);
    store = provider.sharedStore(registered.section);
  }
  return new UpstreamCallLimiter(limit, upstream, host.service, store, section?.failureMode ?? 'open');
}
