/**
 * The rate-limit stage: after authentication (limits key on the verified identity), before the
 * handler. A request over an enforced limit is answered `429` with `Retry-After`, the IETF
 * `RateLimit-Policy` and `RateLimit` fields and problem details, counted in
 * `serverless_rate_limited_total{descriptor, mode}`, marked on the span and logged once at
 * `warn`. Local limits decide synchronously; a shared one costs at most one Redis round trip per
 * request, and none while a lease lasts.
 */
import type { HttpNext, MeshContext, SharedStore, Stage, TokenBucketSpec } from '@sidecarless/core';
import { SidecarlessError } from '@sidecarless/core';
import {
  clientAddress,
  type FeatureContext,
  invocationOf,
  ipMatcher,
  nodeBuiltin,
} from '@sidecarless/core/feature';
import { Leases, LocalBuckets, type Verdict } from './buckets.js';
import { describeBucket, type NormalizedLimit, type NormalizedRateLimits } from './options.js';

/** One limit, ready to check. */
interface CompiledLimit {
  readonly limit: NormalizedLimit;
  readonly local: LocalBuckets;
  /** `shared` only: what this instance holds of the fleet's bucket, and its fallback bucket. */
  readonly leases: Leases | undefined;
  /** `RateLimit-Policy` item: `"per-user";q=100;w=60`. */
  readonly policy: string;
  readonly keyPrefix: string;
}

/** A limit's verdict on one request. */
interface Outcome {
  readonly compiled: CompiledLimit;
  readonly verdict: Verdict;
  /** The store did not answer and the failure mode is `closed`. */
  readonly storeDown?: boolean;
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

/** A check a leased token answered. */
const leased: Verdict = { allowed: true, remaining: 0, retryAfterMs: 0 };

/** The request path, without parsing the URL (the usual case costs an indexOf or two). */
function pathOf(url: string): string {
  const scheme = url.indexOf('://');
  const start = url.indexOf('/', scheme === -1 ? 0 : scheme + 3);
  if (start === -1) return '/';
  const end = url.indexOf('?', start);
  return end === -1 ? url.slice(start) : url.slice(start, end);
}

export class RateLimitStage implements Stage {
  readonly name = 'rateLimits';
  readonly #config: NormalizedRateLimits;
  readonly #limits: readonly CompiledLimit[];
  readonly #store: SharedStore | undefined;
  readonly #trustedProxy: (ip: string | undefined) => boolean;
  readonly #needsPath: boolean;
  readonly #clock: () => number;
  #running = 0;

  constructor(
    config: NormalizedRateLimits,
    service: string,
    store: SharedStore | undefined,
    clock: () => number = Date.now,
  ) {
    this.#config = config;
    this.#store = store;
    this.#clock = clock;
    this.#trustedProxy = config.trustedProxies.length > 0 ? ipMatcher(config.trustedProxies) : () => false;
    this.#needsPath = config.limits.some((limit) => limit.pathPrefix !== undefined);
    this.#limits = config.limits.map((limit) => ({
      limit,
      local: new LocalBuckets(config.maxKeys),
      leases: limit.scope === 'shared' ? new Leases(config.maxKeys) : undefined,
      policy: policyItem(limit.name, limit.bucket),
      keyPrefix: `rl:${service}:${limit.name}:`,
    }));
  }

  http(next: HttpNext): HttpNext {
    const inFlight = this.#config.inFlight;
    if (!inFlight) return (request, ctx) => this.#check(request, ctx, next);
    return (request, ctx) => {
      if (this.#running >= inFlight.max) return Promise.reject(this.#shed(ctx, inFlight.retryAfterS));
      this.#running++;
      const done = () => {
        this.#running--;
      };
      const answered = this.#check(request, ctx, next);
      answered.then(done, done);
      return answered;
    };
  }

  #check(request: Request, mesh: MeshContext, next: HttpNext): Promise<Response> {
    if (this.#limits.length === 0) return next(request, mesh);
    const ctx = invocationOf(mesh);
    const now = this.#clock();
    const path = this.#needsPath ? pathOf(request.url) : '';
    let outcomes: Outcome[] | undefined;
    let pending: Promise<Outcome>[] | undefined;
    for (const compiled of this.#limits) {
      const limit = compiled.limit;
      if (limit.methods !== undefined && !limit.methods.includes(request.method)) continue;
      if (limit.pathPrefix !== undefined && !path.startsWith(limit.pathPrefix)) continue;
      const key = this.#keyOf(limit, request, ctx);
      if (key === undefined) continue;
      const bucket = limit.overrides.get(key) ?? limit.bucket;
      if (compiled.leases === undefined) {
        const verdict = compiled.local.take(key, bucket, now);
        if (!verdict.allowed) {
          outcomes ??= [];
          outcomes.push({ compiled, verdict });
        }
        continue;
      }
      if (compiled.leases.spend(key, now)) continue;
      pending ??= [];
      pending.push(this.#shared(compiled, key, bucket, ctx));
    }
    if (pending === undefined) {
      if (outcomes === undefined) return next(request, mesh);
      return this.#decide(outcomes, request, ctx, next);
    }
    return Promise.all(pending).then((shared) => {
      const all = [...(outcomes ?? []), ...shared.filter((outcome) => !outcome.verdict.allowed)];
      return all.length === 0 ? next(request, mesh) : this.#decide(all, request, ctx, next);
    });
  }

  /** A shared check: one round trip for a lease of tokens; the failure mode when Redis fails. */
  async #shared(
    compiled: CompiledLimit,
    key: string,
    bucket: TokenBucketSpec,
    ctx: FeatureContext,
  ): Promise<Outcome> {
    const limit = compiled.limit;
    const storeKey = compiled.keyPrefix + (limit.descriptor.kind === 'header' ? hashed(key) : key);
    const leases = compiled.leases!;
    try {
      if (!this.#store) throw new Error('no shared store');
      const running = leases.taking(key);
      if (running) {
        // A batch for this key is on its way: its spare tokens may cover this check too.
        await running.catch(() => {});
        if (leases.spend(key, this.#clock())) return { compiled, verdict: leased };
      }
      const taking = this.#store.take(storeKey, bucket, limit.lease);
      if (limit.lease > 1) leases.track(key, taking);
      const grant = await taking;
      if (grant.granted >= 1) {
        leases.keep(key, grant.granted - 1, this.#clock());
        return { compiled, verdict: { allowed: true, remaining: grant.remaining, retryAfterMs: 0 } };
      }
      return { compiled, verdict: { allowed: false, remaining: 0, retryAfterMs: grant.retryAfterMs } };
    } catch {
      const mode = this.#config.failureMode;
      ctx.telemetry?.rateLimitStoreFailure?.(mode);
      if (mode === 'closed')
        return { compiled, verdict: { allowed: false, remaining: 0, retryAfterMs: 1_000 }, storeDown: true };
      // Failure mode open: this instance's own bucket of the same size decides.
      return { compiled, verdict: compiled.local.take(key, bucket, this.#clock()) };
    }
  }

  #keyOf(limit: NormalizedLimit, request: Request, ctx: FeatureContext): string | undefined {
    const descriptor = limit.descriptor;
    switch (descriptor.kind) {
      case 'global':
      case 'route':
        return '*';
      case 'subject':
        return ctx.auth?.subject;
      case 'claim': {
        const value = ctx.auth?.claims[descriptor.claim];
        return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
      }
      case 'peer':
        return ctx.peer ? (ctx.peer.spiffeId ?? ctx.peer.principal) : undefined;
      case 'clientAddress':
        return clientAddress(
          ctx.sourceIp,
          this.#trustedProxy(ctx.sourceIp) ? request.headers.get('x-forwarded-for') : undefined,
          this.#trustedProxy,
        );
      case 'header':
        return request.headers.get(descriptor.header) ?? undefined;
    }
  }

  /** Reports every limit the request is over; refuses when one of them is enforced. */
  #decide(
    outcomes: readonly Outcome[],
    request: Request,
    ctx: FeatureContext,
    next: HttpNext,
  ): Promise<Response> {
    let refusing: Outcome | undefined;
    for (const outcome of outcomes) {
      const limit = outcome.compiled.limit;
      const mode = limit.shadow ? 'shadow' : 'enforce';
      ctx.telemetry?.rateLimited?.(limit.name, mode);
      ctx.telemetry?.span?.addEvent('rate_limited', {
        'sidecarless.rate_limit.descriptor': limit.name,
        'sidecarless.rate_limit.mode': mode,
      });
      if (
        !limit.shadow &&
        (refusing === undefined || outcome.verdict.retryAfterMs > refusing.verdict.retryAfterMs)
      )
        refusing = outcome;
    }
    if (refusing === undefined) {
      ctx.log.info(
        { event: 'rate_limit', descriptors: outcomes.map((o) => o.compiled.limit.name), mode: 'shadow' },
        'request over a rate limit in shadow mode (allowed)',
      );
      return next(request, ctx);
    }
    const limit = refusing.compiled.limit;
    const retryAfter = seconds(refusing.verdict.retryAfterMs);
    // The descriptor's value is never logged: it may be an API key or an address.
    ctx.log.warn(
      {
        event: 'rate_limit',
        descriptor: limit.name,
        kind: limit.descriptor.kind,
        scope: limit.scope,
        retryAfter,
      },
      refusing.storeDown
        ? 'request refused: the shared rate-limit store is down (failure mode closed)'
        : 'request rate limited',
    );
    if (refusing.storeDown) {
      return Promise.reject(
        new SidecarlessError(
          'SCL_ERR_RATE_LIMIT_UNAVAILABLE',
          'the rate limit cannot be checked; retry shortly',
          {
            status: 503,
            expose: true,
            headers: { 'retry-after': String(retryAfter) },
          },
        ),
      );
    }
    const policies = outcomes.filter((o) => !o.compiled.limit.shadow);
    return Promise.reject(
      new SidecarlessError(
        'SCL_ERR_RATE_LIMITED',
        `over the rate limit "${limit.name}" (${describeBucket(limit.bucket)}); retry after ${retryAfter} s`,
        {
          status: 429,
          expose: true,
          headers: {
            'retry-after': String(retryAfter),
            'ratelimit-policy': policies.map((o) => o.compiled.policy).join(', '),
            ratelimit: `"${limit.name}";r=0;t=${retryAfter}`,
          },
        },
      ),
    );
  }

  #shed(mesh: MeshContext, retryAfterS: number): SidecarlessError {
    const ctx = invocationOf(mesh);
    ctx.telemetry?.rateLimited?.('in-flight', 'enforce');
    ctx.log.warn(
      {
        event: 'rate_limit',
        descriptor: 'in-flight',
        max: this.#config.inFlight?.max,
        retryAfter: retryAfterS,
      },
      'request shed: too many invocations in flight in this instance',
    );
    return new SidecarlessError(
      'SCL_ERR_OVERLOADED',
      'this instance is at its in-flight limit; retry shortly',
      {
        status: 503,
        expose: true,
        headers: { 'retry-after': String(retryAfterS) },
      },
    );
  }
}

/** A `RateLimit-Policy` item (draft-ietf-httpapi-ratelimit-headers): quota and window in seconds. */
function policyItem(name: string, bucket: TokenBucketSpec): string {
  return `"${name}";q=${bucket.tokensPerFill};w=${seconds(bucket.fillIntervalMs)}`;
}

/** Header values (API keys) are stored in Redis hashed, never as they are. */
function hashed(value: string): string {
  return nodeBuiltin('node:crypto').createHash('sha256').update(value).digest('base64url').slice(0, 22);
}
