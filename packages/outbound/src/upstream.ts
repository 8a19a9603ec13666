/**
 * One configured upstream: its breaker, budget counters and the one policy chain every `fetch`
 * and `call` runs through (`run`, below). The chain, outermost first — and stated only here:
 *
 *   deadline (timeout ∧ invocation deadline − margin)
 *     ⊃ retry (attempts, retryOn, budget, backoff, Retry-After, "no retry that cannot finish")
 *       ⊃ overflow (connectionPool caps: fail fast, not counted by the breaker)
 *         ⊃ circuit breaker (cockatiel; each attempt counts)
 *           ⊃ endpoint pick (load balancer, outlier ejection)
 *             ⊃ attempt timer (perTryTimeout ∧ what is left of the deadline)
 *               ⊃ the attempt itself: the HTTP transport (`@sidecarless/outbound/http`: undici
                 pool, TLS) for `fetch`, the caller's work for `call`
 *
 * Why this order: the deadline is outermost so retries can never outlive it; the breaker sits
 * inside the retry loop so every attempt is counted and an open circuit stops retries at once;
 * overflow sits outside the breaker because a full local queue says nothing about the upstream's
 * health; outlier detection is per endpoint, so it is innermost with the endpoint it judges.
 *
 * Time is kept with one timer per attempt and no `AbortSignal` unless a caller asks for one:
 * cockatiel's timeout policy allocates a signal per call and aborts it on return (8–17 µs), and
 * inside `wrap()` it adds a listener to a shared signal per call (PERF-NOTES) — so we own it.
 */

import type { CallLimiter, MeshContext, UpstreamCallContext, UpstreamClient } from '@sidecarless/core';
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  SamplingBreaker,
} from 'cockatiel';
import { toUpstreamError, UpstreamError, UpstreamErrorCodes } from './errors.js';
import { circuitChannel, requestChannel, retryChannel } from './events.js';
import type { NormalizedUpstream } from './options.js';
import { backoffDelay, retriableFailure, retriableStatus, withinBudget } from './retry-policy.js';
import type { SharedCircuit } from './shared-circuit.js';

const circuitStates = ['closed', 'open', 'half-open', 'isolated'] as const;

/** The mutable state of one `fetch` or `call` while it runs. */
export interface CallState {
  readonly deadlineAt: number;
  attempt: number;
  lastAttemptMs: number;
  /** Set when the retry policy decided (at response headers) to retry, with its wait. */
  retryDelayMs: number;
  /** Whether this call holds a slot of the retry budget (from its first retry to its end). */
  retrying: boolean;
  aborted: Error | undefined;
  /** The invocation's telemetry hooks (CLIENT spans, upstream metrics), when telemetry is on. */
  readonly telemetry: MeshContext['telemetry'];
  /** Retries allowed after the first attempt: the upstream's, or a route's. */
  readonly attempts: number;
  /** The per-attempt limit: the upstream's, or a route's. */
  readonly perTryTimeoutMs: number | undefined;
  /** The Host (authority) a route rewrote the request to, for the HTTP transport. */
  readonly authority: string | undefined;
  /** The route and subset that decided this call, for CLIENT spans. */
  readonly route: { readonly name: string; readonly subset: string | undefined } | undefined;
  /** Whether this call is a route's mirrored copy (`sidecarless.mirror` on its CLIENT span). */
  readonly mirror: boolean;
  /** A fault injected into the current attempt (a delay before it), for its CLIENT span. */
  fault: 'delay' | undefined;
}

/**
 * What a route changes about one call (`@sidecarless/outbound/traffic`): its timeout and
 * retries, and a wrapper around its plan (fault injection runs inside the chain, so retries and
 * the breaker see injected faults as real ones).
 */
export interface CallOptions {
  readonly timeoutMs?: number | undefined;
  readonly attempts?: number | undefined;
  readonly perTryTimeoutMs?: number | undefined;
  /** `rewrite.authority`: the Host the request is sent with. */
  readonly authority?: string | undefined;
  /** The route and subset that decided the call (CLIENT span attributes). */
  readonly route?: { readonly name: string; readonly subset: string | undefined } | undefined;
  /** A route's mirrored copy: its CLIENT span says so. */
  readonly mirror?: boolean | undefined;
  readonly wrapPlan?: (<T>(plan: AttemptPlan<T>, upstream: Upstream) => AttemptPlan<T>) | undefined;
}

/**
 * Routes an upstream's calls (`@sidecarless/outbound/traffic` installs one on an upstream with
 * `http` routes or `subsets`): picks the destination upstream and the call's options.
 */
export interface UpstreamRouting {
  fetch(input: string | URL, init: RequestInit | undefined, ctx: MeshContext | undefined): Promise<Response>;
  call<T>(work: (call: UpstreamCallContext) => Promise<T>, ctx: MeshContext | undefined): Promise<T>;
}

/** The clock of one attempt: how long it may take, and whether that limit is `perTryTimeout`. */
export interface AttemptTiming {
  readonly attemptMs: number;
  readonly perTry: boolean;
}

/** How one attempt ended without throwing: with the call's value, or asking for a retry. */
export type AttemptOutcome<T> =
  | { readonly value: T; readonly retry?: undefined; readonly status?: number }
  | { readonly retry: string; readonly status?: number };

/**
 * What differs between a `fetch` and a `call`: how an attempt runs and which failures may be
 * retried. The policy chain ({@link Upstream.run}) does the rest.
 */
export interface AttemptPlan<T> {
  /**
   * Runs one attempt. `retryFits(retryAfterMs)` answers — and reserves the budget slot — whether
   * a retry may follow this attempt's result (an HTTP 503 decides at the response headers).
   */
  attempt(
    state: CallState,
    timing: AttemptTiming,
    retryFits: (retryAfterMs: number | undefined) => boolean,
  ): Promise<AttemptOutcome<T>>;
  /**
   * A failed attempt: the error to throw if it is not retried, whether its kind may be retried
   * at all (attempts left and the budget are the chain's to check), and the reason reported.
   */
  failed(
    error: unknown,
    state: CallState,
  ): { readonly error: unknown; readonly retriable: boolean; readonly reason: string };
  /** The HTTP status of a successful call, for the request event. */
  statusOf?(value: T): number | undefined;
  /**
   * An injected abort (fault injection) with `status`, handled as a real answer with that status
   * would be: retried when the status may be, else the call's value.
   */
  injected?(status: number, retryFits: (retryAfterMs: number | undefined) => boolean): AttemptOutcome<T>;
  /** Runs once the call has ended, however it ended. */
  finished?(): void;
}

/** The HTTP transport as the policy chain sees it (`@sidecarless/outbound/http` provides it). */
export interface UpstreamTransport {
  /** How many endpoints share the connection-pool caps. */
  readonly endpointCount: number;
  /** The plan of one `fetch`, prepared (target, headers, body) before the chain runs. */
  fetchPlan(
    input: string | URL,
    init: RequestInit | undefined,
    state: CallState,
  ): AttemptPlan<Response> | Promise<AttemptPlan<Response>>;
  start(): Promise<void>;
  close(): Promise<void>;
  reloadTls(): boolean;
}

/** One configured upstream; lives on the mesh instance across invocations. */
export class Upstream {
  readonly name: string;
  readonly config: NormalizedUpstream;
  readonly breaker: CircuitBreakerPolicy | undefined;
  readonly #transport: UpstreamTransport | undefined;
  /** `[maxConnections, http1MaxPendingRequests]` when both are set: attempts beyond them fail fast. */
  readonly #caps: readonly [number, number] | undefined;
  #activeRequests = 0;
  /** The telemetry hooks of the latest call that had them (breaker and ejection events use them). */
  lastTelemetry: MeshContext['telemetry'];
  #activeRetries = 0;
  /** Attempts running now, across calls: the connection-pool caps count them. */
  inflightAttempts = 0;
  /** Set by the traffic feature on an upstream with routes or subsets. */
  routing: UpstreamRouting | undefined;
  /** Set by the rate-limit feature on an upstream with a `rateLimit`. */
  limiter: CallLimiter | undefined;
  /** Set at install for `circuitBreaker.shared`: the circuit every instance shares. */
  sharedCircuit: SharedCircuit | undefined;

  constructor(
    config: NormalizedUpstream,
    transport: ((upstream: Upstream) => UpstreamTransport) | undefined,
  ) {
    this.name = config.name;
    this.config = config;
    const pool = config.connectionPool;
    this.#caps =
      pool.maxConnections !== undefined && pool.maxPendingRequests !== undefined
        ? [pool.maxConnections, pool.maxPendingRequests]
        : undefined;
    this.breaker = this.#createBreaker();
    this.#transport = transport?.(this);
  }

  /** Resolves DNS endpoints (awaited before the mesh is ready). */
  start(): Promise<void> {
    return this.#transport?.start() ?? Promise.resolve();
  }

  /** The client handed to handlers, bound to an invocation (or to none at init). */
  client(ctx: MeshContext | undefined): UpstreamClient {
    return new BoundUpstreamClient(this, ctx);
  }

  /** The breaker's state, to save and pass back as `circuitBreaker.initialState` after a cold start. */
  circuitState(): unknown {
    return this.breaker?.toJSON();
  }

  /** Re-reads TLS files now (the file watcher does this on change). */
  reloadTls(): boolean {
    return this.#transport?.reloadTls() ?? false;
  }

  async close(): Promise<void> {
    await this.#transport?.close();
  }

  /** An HTTP request through the chain; needs the HTTP transport and an endpoint. */
  async fetch(
    input: string | URL,
    init: RequestInit | undefined,
    ctx: MeshContext | undefined,
    options?: CallOptions,
  ): Promise<Response> {
    const transport = this.#transport;
    if (transport === undefined) {
      throw new UpstreamError({
        code: UpstreamErrorCodes.noTransport,
        upstream: this.name,
        kind: 'rejected',
        message: `has no endpoints, so it serves call() only; to fetch, set upstreams.${this.name}.url and register the HTTP transport (import { http } from '@sidecarless/outbound/http')`,
        status: 500,
      });
    }
    const state = this.#startState(ctx, Date.now(), options);
    const plan = await transport.fetchPlan(input, init, state);
    return this.run(options?.wrapPlan ? options.wrapPlan(plan, this) : plan, state);
  }

  /** Any async work through the chain. */
  call<T>(
    work: (call: UpstreamCallContext) => Promise<T>,
    ctx: MeshContext | undefined,
    options?: CallOptions,
  ): Promise<T> {
    const state = this.#startState(ctx, Date.now(), options);
    const plan = this.#workPlan(work);
    return this.run(options?.wrapPlan ? options.wrapPlan(plan, this) : plan, state);
  }

  /**
   * The policy chain (see the order at the top of this file): the deadline, then the retry loop
   * around the overflow check, the breaker and one attempt of `plan`.
   */
  async run<T>(plan: AttemptPlan<T>, state: CallState): Promise<T> {
    const startedAt = Date.now();
    this.#activeRequests++;
    let finalStatus: number | undefined;
    let finalError: string | undefined;
    try {
      for (;;) {
        // The quota first: a wait for a token comes out of the deadline, not the attempt's time.
        if (this.limiter) await this.limiter.acquire(state.deadlineAt);
        const syncing = this.sharedCircuit?.sync();
        if (syncing) await syncing;
        const timing = this.#beginAttempt(state);
        const retriesLeft = state.attempt <= state.attempts;
        const retryFits = (retryAfterMs: number | undefined) =>
          retriesLeft && this.#retryFits(state, retryAfterMs);
        let outcome: AttemptOutcome<T>;
        try {
          outcome = await this.#guard(() => plan.attempt(state, timing, retryFits));
        } catch (error) {
          const failure = plan.failed(error, state);
          if (!(failure.retriable && retryFits(undefined))) throw failure.error;
          await this.#waitForRetry(state, failure.reason);
          continue;
        }
        if (outcome.retry === undefined) {
          finalStatus = plan.statusOf?.(outcome.value);
          return outcome.value;
        }
        await this.#waitForRetry(state, outcome.retry);
      }
    } catch (error) {
      finalError = (error as { code?: string } | null)?.code ?? 'error';
      throw error;
    } finally {
      this.#endCall(state);
      plan.finished?.();
      if (requestChannel.hasSubscribers)
        requestChannel.publish({
          upstream: this.name,
          attempts: state.attempt,
          status: finalStatus,
          errorCode: finalError,
          durationMs: Date.now() - startedAt,
        });
    }
  }

  /** The plan of `call(work)`: the work under the attempt timer; AWS SDK-style failures classified. */
  #workPlan<T>(work: (call: UpstreamCallContext) => Promise<T>): AttemptPlan<T> {
    const retries = this.config.retries;
    return {
      attempt: (state, timing) => this.#workAttempt(work, state, timing.attemptMs, timing.perTry),
      failed: (error) => {
        const failure = classifyWorkError(error);
        return {
          error,
          retriable:
            failure.status !== undefined
              ? retriableStatus(retries, failure.status)
              : failure.kind !== undefined && retriableFailure(retries, failure.kind),
          reason: failure.status !== undefined ? String(failure.status) : (failure.kind ?? 'error'),
        };
      },
      // An injected abort is a failure with the route's status: retried as that status would be.
      injected: (status, retryFits) => {
        if (retriableStatus(retries, status) && retryFits(undefined))
          return { retry: String(status), status };
        throw new UpstreamError({
          code: UpstreamErrorCodes.faultAbort,
          upstream: this.name,
          kind: 'injected',
          message: `fault injection aborted the call with ${status}`,
          status,
        });
      },
    };
  }

  #workAttempt<T>(
    work: (call: UpstreamCallContext) => Promise<T>,
    state: CallState,
    attemptMs: number,
    perTry: boolean,
  ): Promise<AttemptOutcome<T>> {
    const begun = Date.now();
    this.inflightAttempts++;
    return new Promise<AttemptOutcome<T>>((resolve, reject) => {
      let controller: AbortController | undefined;
      let expired: Error | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.inflightAttempts--;
        state.lastAttemptMs = Date.now() - begun;
      };
      // The signal is built only if the work reads it (most wrapped SDK calls do; a cheap
      // in-process call does not, and pays nothing).
      const context: UpstreamCallContext = {
        attempt: state.attempt,
        get signal() {
          if (!controller) {
            controller = new AbortController();
            if (expired) controller.abort(expired);
          }
          return controller.signal;
        },
      };
      if (Number.isFinite(attemptMs)) {
        timer = setTimeout(() => {
          expired = timeoutError(this.name, perTry, attemptMs);
          controller?.abort(expired);
          timer = undefined;
          finish();
          reject(expired);
        }, attemptMs);
        timer.unref();
      }
      let pending: Promise<T>;
      try {
        pending = work(context);
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          if (expired) return;
          finish();
          resolve({ value });
        },
        (error: unknown) => {
          if (expired) return;
          finish();
          reject(error);
        },
      );
    });
  }

  // ---------------------------------------------------------------------------------------------
  // the chain's steps

  /** The state of one call: its deadline (timeout ∧ invocation deadline − margin) and counters. */
  #startState(ctx: MeshContext | undefined, now: number, options?: CallOptions): CallState {
    const timeoutMs = options?.timeoutMs ?? this.config.timeoutMs;
    let deadlineAt = timeoutMs === undefined ? Number.POSITIVE_INFINITY : now + timeoutMs;
    if (ctx) deadlineAt = Math.min(deadlineAt, ctx.deadline - this.config.deadlineMarginMs);
    const telemetry = ctx?.telemetry;
    // Breaker and outlier events happen during some call; they are recorded through the hooks of
    // the latest call that had telemetry (the metrics behind them live on the mesh, not the call).
    if (telemetry) this.lastTelemetry = telemetry;
    return {
      deadlineAt,
      attempt: 0,
      lastAttemptMs: 0,
      retryDelayMs: 0,
      retrying: false,
      aborted: undefined,
      telemetry,
      attempts: options?.attempts ?? this.config.retries.attempts,
      perTryTimeoutMs: options?.perTryTimeoutMs ?? this.config.retries.perTryTimeoutMs,
      authority: options?.authority,
      route: options?.route,
      mirror: options?.mirror === true,
      fault: undefined,
    };
  }

  /** Starts the next attempt's clock; throws when the deadline has already passed. */
  #beginAttempt(state: CallState): AttemptTiming {
    state.attempt++;
    const remaining = state.deadlineAt - Date.now();
    if (remaining <= 0) throw timeoutError(this.name, false, 0);
    const perTryMs = state.perTryTimeoutMs;
    const perTry = perTryMs !== undefined && perTryMs < remaining;
    return { attemptMs: perTry ? perTryMs : remaining, perTry };
  }

  /**
   * Whether one more retry may start: within the budget, and able to finish before the deadline
   * after its wait — it needs `perTryTimeout` if set, else as long as the last attempt took.
   * Records the wait in `state` and takes the budget slot at once, so calls deciding together
   * cannot all squeeze under the budget; the slot is held until the call ends.
   */
  #retryFits(state: CallState, retryAfterMs: number | undefined): boolean {
    if (!state.retrying && !withinBudget(this.config.retryBudget, this.#activeRequests, this.#activeRetries))
      return false;
    // connectionPool.http.maxRetries: retries in flight at once, across calls (Envoy's max_retries).
    const maxRetries = this.config.connectionPool.maxRetries;
    if (!state.retrying && maxRetries !== undefined && this.#activeRetries >= maxRetries) return false;
    const delay = retryAfterMs ?? backoffDelay(this.config.retries, state.attempt);
    const needed = state.perTryTimeoutMs ?? Math.max(1, state.lastAttemptMs);
    if (state.deadlineAt - Date.now() - delay < needed) return false;
    state.retryDelayMs = delay;
    if (!state.retrying) {
      state.retrying = true;
      this.#activeRetries++;
    }
    return true;
  }

  #endCall(state: CallState): void {
    this.#activeRequests--;
    if (state.retrying) this.#activeRetries--;
  }

  async #waitForRetry(state: CallState, reason: string): Promise<void> {
    const delayMs = state.retryDelayMs;
    state.telemetry?.upstreamRetry(this.name);
    if (retryChannel.hasSubscribers)
      retryChannel.publish({ upstream: this.name, attempt: state.attempt + 1, reason, delayMs });
    // Ref'd: the wait is part of the caller's invocation. On Lambda nothing else may hold the
    // event loop open between attempts, and an unref'd timer let the runtime exit mid-retry.
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  /** Overflow check, then the breaker, around one attempt. */
  #guard<T>(attempt: () => Promise<T>): Promise<T> {
    const caps = this.#caps;
    if (
      caps &&
      this.inflightAttempts >= caps[0] * Math.max(1, this.#transport?.endpointCount ?? 1) + caps[1]
    ) {
      return Promise.reject(
        new UpstreamError({
          code: UpstreamErrorCodes.overflow,
          upstream: this.name,
          kind: 'rejected',
          message: `${this.inflightAttempts} requests are in flight or queued, the connectionPool limit; failing fast instead of waiting`,
          status: 503,
        }),
      );
    }
    const maxRequests = this.config.connectionPool.maxRequests;
    if (maxRequests !== undefined && this.inflightAttempts >= maxRequests) {
      return Promise.reject(
        new UpstreamError({
          code: UpstreamErrorCodes.overflow,
          upstream: this.name,
          kind: 'rejected',
          message: `${this.inflightAttempts} requests are in flight, the connectionPool.http.http2MaxRequests limit; failing fast instead of waiting`,
          status: 503,
        }),
      );
    }
    if (!this.breaker) return attempt();
    return this.breaker.execute(attempt).catch((error: unknown) => {
      if (error instanceof BrokenCircuitError)
        throw new UpstreamError({
          code: UpstreamErrorCodes.circuitOpen,
          upstream: this.name,
          kind: 'rejected',
          message: 'the circuit is open; failing fast',
          cause: error,
          status: 503,
        });
      throw error;
    });
  }

  #createBreaker(): CircuitBreakerPolicy | undefined {
    const options = this.config.circuitBreaker;
    if (!options) return undefined;
    const breaker = options.sampling
      ? new SamplingBreaker({
          threshold: options.sampling.threshold,
          duration: options.sampling.durationMs,
          minimumRps: options.sampling.minimumRps,
        })
      : new ConsecutiveBreaker(options.consecutiveFailures ?? 5);
    // A failure is an error from the upstream (not the caller aborting, not a local overflow)
    // or a 5xx response.
    const policy = handleWhen(
      (error) => !(error instanceof UpstreamError) || error.kind !== 'aborted',
    ).orWhenResult((result) => isServerError(result as AttemptOutcome<unknown>));
    const created = circuitBreaker(policy, {
      breaker,
      halfOpenAfter: options.halfOpenAfterMs,
      ...(options.initialState === undefined ? {} : { initialState: options.initialState }),
    });
    let previous: CircuitState = CircuitState.Closed;
    created.onStateChange((state: CircuitState) => {
      // Share what this instance's breaker decided; an isolation a shared read imposed is not news.
      if (state === CircuitState.Open) this.sharedCircuit?.opened();
      else if (state === CircuitState.Closed && previous === CircuitState.HalfOpen)
        this.sharedCircuit?.closed();
      previous = state;
      this.lastTelemetry?.circuitState(
        this.name,
        circuitStates[state] === 'open' || circuitStates[state] === 'isolated',
      );
      if (circuitChannel.hasSubscribers)
        circuitChannel.publish({ upstream: this.name, state: circuitStates[state] ?? 'closed' });
    });
    return created;
  }
}

/**
 * Whether an attempt's outcome is a 5xx for the breaker: the status an HTTP attempt reports, or
 * a `status` on the value `call(work)` returned (a `Response`, an SDK-style result).
 */
function isServerError(outcome: AttemptOutcome<unknown>): boolean {
  const status = outcome.status ?? (outcome.retry === undefined ? statusOf(outcome.value) : undefined);
  return status !== undefined && status >= 500;
}

function statusOf(value: unknown): number | undefined {
  const status =
    typeof value === 'object' && value !== null ? (value as { status?: unknown }).status : undefined;
  return typeof status === 'number' ? status : undefined;
}

/** The error for an attempt (`perTry`) or a whole call that ran out of time. */
export function timeoutError(upstream: string, perTry: boolean, ms: number): UpstreamError {
  return perTry
    ? new UpstreamError({
        code: UpstreamErrorCodes.perTryTimeout,
        upstream,
        kind: 'per-try-timeout',
        message: `the attempt took longer than perTryTimeout (${ms} ms)`,
        status: 504,
      })
    : new UpstreamError({
        code: UpstreamErrorCodes.timeout,
        upstream,
        kind: 'timeout',
        message: 'the call reached its timeout or the invocation deadline',
        status: 504,
      });
}

/** Reads what a wrapped non-HTTP failure says: an HTTP-ish status (AWS SDK `$metadata`), or a network kind. */
function classifyWorkError(error: unknown): { status?: number; kind?: UpstreamError['kind'] } {
  if (error instanceof UpstreamError) return { kind: error.kind };
  const e = error as {
    code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $retryable?: unknown;
  } | null;
  const status = e?.$metadata?.httpStatusCode;
  if (typeof status === 'number' && status >= 400) return { status };
  if (e?.$retryable) return { kind: 'reset' };
  const mapped = toUpstreamError('', error);
  return mapped.kind === 'connect' ||
    (mapped.kind === 'reset' && typeof e?.code === 'string' && e.code.startsWith('E'))
    ? { kind: mapped.kind }
    : {};
}

/** The client handed to handlers: the upstream bound to one invocation. */
class BoundUpstreamClient implements UpstreamClient {
  readonly name: string;
  readonly #upstream: Upstream;
  readonly #ctx: MeshContext | undefined;

  constructor(upstream: Upstream, ctx: MeshContext | undefined) {
    this.name = upstream.name;
    this.#upstream = upstream;
    this.#ctx = ctx;
  }

  fetch(pathOrUrl: string | URL, init?: RequestInit): Promise<Response> {
    try {
      const routing = this.#upstream.routing;
      return routing
        ? routing.fetch(pathOrUrl, init, this.#ctx)
        : this.#upstream.fetch(pathOrUrl, init, this.#ctx);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  call<T>(work: (call: UpstreamCallContext) => Promise<T>): Promise<T> {
    const routing = this.#upstream.routing;
    return routing ? routing.call(work, this.#ctx) : this.#upstream.call(work, this.#ctx);
  }

  circuitState(): unknown {
    return this.#upstream.circuitState();
  }
}
