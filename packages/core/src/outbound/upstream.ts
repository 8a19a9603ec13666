/**
 * One configured upstream: its pools, breaker, budget counters and the policy chain every
 * `fetch`/`call` runs through. The chain, outermost first — and stated only here:
 *
 *   deadline (timeout ∧ invocation deadline − margin)
 *     ⊃ retry (attempts, retryOn, budget, backoff, Retry-After, "no retry that cannot finish")
 *       ⊃ overflow (connectionPool caps: fail fast, not counted by the breaker)
 *         ⊃ circuit breaker (cockatiel; each attempt counts)
 *           ⊃ endpoint pick (load balancer, outlier ejection)
 *             ⊃ attempt timer (perTryTimeout ∧ what is left of the deadline)
 *               ⊃ transport (undici pool, TLS)
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
import type { IncomingHttpHeaders } from 'node:http';
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  type CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  SamplingBreaker,
} from 'cockatiel';
import type { Agent as AgentType, Pool as PoolType } from 'undici';
import type { MeshContext } from '../context.js';
import type { NormalizedUpstream } from '../options/upstreams.js';
import type { UpstreamCallContext, UpstreamClient } from '../upstream-types.js';
import { deadlineHeader } from './deadline-header.js';
import type { Endpoint, EndpointOutcome } from './endpoints.js';
import { EndpointSet } from './endpoints.js';
import { toUpstreamError, UpstreamError, UpstreamErrorCodes } from './errors.js';
import {
  type AttemptStartMessage,
  attemptEndChannel,
  attemptStartChannel,
  circuitChannel,
  requestChannel,
  retryChannel,
} from './events.js';
import { injectTraceContext, outgoingHeaders } from './propagation.js';
import { backoffDelay, mayRepeat, retriableFailure, retriableStatus, withinBudget } from './retry-policy.js';
import { TlsConnector } from './tls.js';
import { type AttemptRequest, type AttemptResult, dispatchAttempt } from './transport.js';
import { Agent, Pool } from './undici-parts.js';

const circuitStates = ['closed', 'open', 'half-open', 'isolated'] as const;

/** Lets a CLIENT span write its trace headers into the plain header record undici sends. */
function headerSetter(headers: Record<string, string>): { set(name: string, value: string): void } {
  return {
    set(name, value) {
      headers[name] = value;
    },
  };
}
const absoluteUrl = /^[a-z][a-z\d+.-]*:\/\//i;

/** Where one request goes. */
interface Target {
  /** Set for passthrough requests (sent through the upstream's Agent, not its endpoints). */
  readonly origin: string | undefined;
  readonly path: string;
  readonly url: string;
}

/** The mutable state of one `fetch` or `call` while it runs. */
interface CallState {
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
}

/** One configured upstream; lives on the mesh instance across invocations. */
export class Upstream {
  readonly name: string;
  readonly config: NormalizedUpstream;
  readonly endpoints: EndpointSet;
  readonly breaker: CircuitBreakerPolicy | undefined;
  readonly #tls: TlsConnector | undefined;
  readonly #poolOptions: PoolType.Options;
  readonly #origins: ReadonlySet<string>;
  /** `[maxConnections, http1MaxPendingRequests]` when both are set: attempts beyond them fail fast. */
  readonly #caps: readonly [number, number] | undefined;
  #agent: AgentType | undefined;
  #activeRequests = 0;
  #lastTelemetry: MeshContext['telemetry'];
  #activeRetries = 0;
  #inflightAttempts = 0;

  constructor(config: NormalizedUpstream) {
    this.name = config.name;
    this.config = config;
    const pool = config.connectionPool;
    // TCP keepalive is on by default (undici's 60 s), tcpKeepalive.time tunes it.
    const base = {
      timeout: pool.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelay: pool.keepAliveDelayMs ?? 60_000,
      allowH2: pool.allowH2,
    };
    this.#tls = config.tls ? new TlsConnector(config.name, config.tls, base) : undefined;
    this.#poolOptions = {
      ...(pool.maxConnections === undefined ? {} : { connections: pool.maxConnections }),
      // undici resets a connection once it has served *more* than maxRequestsPerClient requests
      // (its counter test is `served++ >= max`), so pass one less; 1 is handled per request with
      // `reset` because 0 would mean "unlimited".
      ...(pool.maxRequestsPerConnection === undefined || pool.maxRequestsPerConnection === 1
        ? {}
        : { maxRequestsPerClient: pool.maxRequestsPerConnection - 1 }),
      keepAliveTimeout: pool.idleTimeoutMs,
      keepAliveMaxTimeout: pool.idleTimeoutMs,
      allowH2: pool.allowH2,
      connect: { timeout: base.timeout, keepAlive: true, keepAliveInitialDelay: base.keepAliveInitialDelay },
    };
    this.endpoints = new EndpointSet(
      config,
      (origin, expectedHost) => this.#createPool(origin, expectedHost),
      () => this.#lastTelemetry?.upstreamEjection(this.name),
    );
    this.#origins = new Set(config.endpoints.map((url) => url.origin));
    this.#caps =
      pool.maxConnections !== undefined && pool.maxPendingRequests !== undefined
        ? [pool.maxConnections, pool.maxPendingRequests]
        : undefined;
    this.breaker = this.#createBreaker();
  }

  /** Resolves DNS endpoints (awaited before the mesh is ready). */
  start(): Promise<void> {
    return this.endpoints.start();
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
    return this.#tls?.reload() ?? false;
  }

  async close(): Promise<void> {
    this.#tls?.close();
    await Promise.all([this.endpoints.close(), this.#agent?.close()]);
  }

  // ---------------------------------------------------------------------------------------------
  // fetch

  async fetch(
    input: string | URL,
    init: RequestInit | undefined,
    ctx: MeshContext | undefined,
  ): Promise<Response> {
    const startedAt = Date.now();
    const target = this.#target(input);
    const method = (init?.method ?? 'GET').toUpperCase();
    const headers = outgoingHeaders(init?.headers ?? undefined);
    const logicalHost =
      this.config.resolution === 'DNS' && !target.origin ? this.config.endpoints[0]!.host : undefined;
    if (logicalHost) headers.host = logicalHost;
    const repeatable = mayRepeat(method, headers, this.config.idempotent);
    const rawBody = init?.body ?? null;
    // Bytes and text are prepared synchronously: an `await` here would cost every call a turn.
    const body =
      rawBody === null || typeof rawBody === 'string' || rawBody instanceof Uint8Array
        ? preparedBytes(rawBody, headers)
        : await prepareBody(rawBody, headers, repeatable ? this.config.retries.maxBodyBytes : 0);
    const request: AttemptRequest = {
      method,
      path: target.path,
      headers,
      body: body.value,
      reset: this.config.connectionPool.maxRequestsPerConnection === 1,
    };
    const state = this.#startState(ctx, startedAt);
    const signal = init?.signal ?? undefined;
    if (signal?.aborted) throw toUpstreamError(this.name, signal.reason);

    let current: { abort(reason: Error): void } | undefined;
    const onAbort = () => {
      state.aborted = toUpstreamError(this.name, signal!.reason);
      current?.abort(state.aborted);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#activeRequests++;
    let finalStatus: number | undefined;
    let finalError: string | undefined;
    try {
      for (;;) {
        const { attemptMs, perTry } = this.#beginAttempt(state);
        // Only a repeatable request with a replayable body may be retried; a connect failure is
        // the exception, since nothing reached the server.
        const retriesLeft = state.attempt <= this.config.retries.attempts;
        const decide = (status: number, responseHeaders: IncomingHttpHeaders) =>
          repeatable &&
          body.replayable &&
          retriesLeft &&
          retriableStatus(this.config.retries, status, responseHeaders['grpc-status']) &&
          this.#retryFits(state, statusRetryAfter(status, responseHeaders));
        let result: AttemptResult;
        try {
          result = await this.#guard(() =>
            this.#httpAttempt(target, request, state, attemptMs, perTry, decide, (attempt) => {
              current = attempt;
            }),
          );
        } catch (error) {
          const failure = this.#explain(state.aborted ?? error);
          const mayRetry =
            retriesLeft &&
            state.aborted === undefined &&
            retriableFailure(this.config.retries, failure.kind) &&
            ((repeatable && body.replayable) || failure.kind === 'connect') &&
            this.#retryFits(state, undefined);
          if (!mayRetry) throw failure;
          await this.#waitForRetry(state, failure.code);
          continue;
        }
        if (!result.retry) {
          finalStatus = result.status;
          return result.response;
        }
        await this.#waitForRetry(state, String(result.status));
      }
    } catch (error) {
      finalError = (error as { code?: string }).code;
      throw error;
    } finally {
      this.#endCall(state);
      signal?.removeEventListener('abort', onAbort);
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

  #httpAttempt(
    target: Target,
    request: AttemptRequest,
    state: CallState,
    attemptMs: number,
    perTry: boolean,
    decide: (status: number, headers: IncomingHttpHeaders) => boolean,
    expose: (attempt: { abort(reason: Error): void }) => void,
  ): Promise<AttemptResult> {
    const now = Date.now();
    let endpoint: Endpoint | undefined;
    if (target.origin === undefined) {
      endpoint = this.endpoints.pick(now);
      if (!endpoint)
        throw new UpstreamError(
          UpstreamErrorCodes.connect,
          this.name,
          'connect',
          'no endpoint is available (DNS found no address)',
          undefined,
          503,
        );
      endpoint.active++;
    }
    this.#inflightAttempts++;
    const headers = request.headers;
    if (Number.isFinite(state.deadlineAt))
      headers[deadlineHeader] = String(Math.max(0, state.deadlineAt - now));
    let start: AttemptStartMessage | undefined;
    if (attemptStartChannel.hasSubscribers) {
      start = {
        upstream: this.name,
        attempt: state.attempt,
        method: request.method,
        url: target.url,
        headers,
      };
      attemptStartChannel.publish(start);
    }
    // With the telemetry feature on, each attempt is a CLIENT span whose context goes downstream;
    // otherwise whatever context is active (an application's own OpenTelemetry setup) does.
    const span = state.telemetry?.startClientSpan({
      upstream: this.name,
      method: request.method,
      url: new URL(target.url),
      attempt: state.attempt - 1,
    });
    if (span && start?.context === undefined) span.inject(headerSetter(headers));
    else injectTraceContext(headers, start?.context);

    let timer: NodeJS.Timeout | undefined;
    const settled = (error: Error | undefined, status: number | undefined) => {
      if (timer !== undefined) clearTimeout(timer);
      this.#inflightAttempts--;
      const ended = Date.now();
      state.lastAttemptMs = ended - now;
      if (endpoint) {
        endpoint.active--;
        this.endpoints.record(endpoint, endpointOutcome(error, status, state), ended);
      }
      span?.end(
        error ? { error: toUpstreamError(this.name, error) } : status === undefined ? {} : { status },
      );
      if (start)
        attemptEndChannel.publish({
          upstream: this.name,
          attempt: state.attempt,
          endpoint: endpoint?.origin ?? target.origin,
          status,
          errorCode: error ? toUpstreamError(this.name, error).code : undefined,
          durationMs: ended - now,
          start,
        });
    };
    const dispatcher = endpoint ? endpoint.pool : this.#passthroughAgent();
    const attempt = dispatchAttempt(dispatcher, target.origin, request, decide, settled);
    expose(attempt);
    if (Number.isFinite(attemptMs)) {
      timer = setTimeout(() => attempt.abort(this.#timeoutError(perTry, attemptMs)), attemptMs);
      timer.unref();
    }
    return attempt.result;
  }

  // ---------------------------------------------------------------------------------------------
  // call

  async call<T>(work: (call: UpstreamCallContext) => Promise<T>, ctx: MeshContext | undefined): Promise<T> {
    const startedAt = Date.now();
    const state = this.#startState(ctx, startedAt);
    this.#activeRequests++;
    let finalError: string | undefined;
    try {
      for (;;) {
        const { attemptMs, perTry } = this.#beginAttempt(state);
        try {
          return await this.#guard(() => this.#workAttempt(work, state, attemptMs, perTry));
        } catch (error) {
          const failure = classifyWorkError(error);
          const mayRetry =
            state.attempt <= this.config.retries.attempts &&
            (failure.status !== undefined
              ? retriableStatus(this.config.retries, failure.status)
              : failure.kind !== undefined && retriableFailure(this.config.retries, failure.kind)) &&
            this.#retryFits(state, undefined);
          if (!mayRetry) throw error;
          await this.#waitForRetry(
            state,
            failure.status !== undefined ? String(failure.status) : (failure.kind ?? 'error'),
          );
        }
      }
    } catch (error) {
      finalError = (error as { code?: string })?.code ?? 'error';
      throw error;
    } finally {
      this.#endCall(state);
      if (requestChannel.hasSubscribers)
        requestChannel.publish({
          upstream: this.name,
          attempts: state.attempt,
          status: undefined,
          errorCode: finalError,
          durationMs: Date.now() - startedAt,
        });
    }
  }

  #workAttempt<T>(
    work: (call: UpstreamCallContext) => Promise<T>,
    state: CallState,
    attemptMs: number,
    perTry: boolean,
  ): Promise<T> {
    const begun = Date.now();
    this.#inflightAttempts++;
    return new Promise<T>((resolve, reject) => {
      let controller: AbortController | undefined;
      let expired: Error | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.#inflightAttempts--;
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
          expired = this.#timeoutError(perTry, attemptMs);
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
          resolve(value);
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
  // shared policy steps

  #startState(ctx: MeshContext | undefined, now: number): CallState {
    let deadlineAt =
      this.config.timeoutMs === undefined ? Number.POSITIVE_INFINITY : now + this.config.timeoutMs;
    if (ctx) deadlineAt = Math.min(deadlineAt, ctx.deadline - this.config.deadlineMarginMs);
    const telemetry = ctx?.telemetry;
    // Breaker and outlier events happen during some call; they are recorded through the hooks of
    // the latest call that had telemetry (the metrics behind them live on the mesh, not the call).
    if (telemetry) this.#lastTelemetry = telemetry;
    return {
      deadlineAt,
      attempt: 0,
      lastAttemptMs: 0,
      retryDelayMs: 0,
      retrying: false,
      aborted: undefined,
      telemetry,
    };
  }

  /** Starts the next attempt's clock; throws when the deadline has already passed. */
  #beginAttempt(state: CallState): { attemptMs: number; perTry: boolean } {
    state.attempt++;
    const remaining = state.deadlineAt - Date.now();
    if (remaining <= 0) throw this.#timeoutError(false, 0);
    const perTryMs = this.config.retries.perTryTimeoutMs;
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
    const delay = retryAfterMs ?? backoffDelay(this.config.retries, state.attempt);
    const needed = this.config.retries.perTryTimeoutMs ?? Math.max(1, state.lastAttemptMs);
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
    if (caps && this.#inflightAttempts >= caps[0] * Math.max(1, this.endpoints.all.length) + caps[1]) {
      return Promise.reject(
        new UpstreamError(
          UpstreamErrorCodes.overflow,
          this.name,
          'rejected',
          `${this.#inflightAttempts} requests are in flight or queued, the connectionPool limit; failing fast instead of waiting`,
          undefined,
          503,
        ),
      );
    }
    if (!this.breaker) return attempt();
    return this.breaker.execute(attempt).catch((error: unknown) => {
      if (error instanceof BrokenCircuitError)
        throw new UpstreamError(
          UpstreamErrorCodes.circuitOpen,
          this.name,
          'rejected',
          'the circuit is open; failing fast',
          error,
          503,
        );
      throw error;
    });
  }

  /** Maps a transport error, naming a refused client certificate that only shows as a close. */
  #explain(error: unknown): UpstreamError {
    const cause = error instanceof UpstreamError ? undefined : error;
    if (cause !== undefined && this.#tls?.refusedClientCertificate(cause))
      return new UpstreamError(
        UpstreamErrorCodes.tlsClientCertRefused,
        this.name,
        'tls',
        "TLS check failed: the server closed the connection without accepting our client certificate; check tls.clientCertificate and the server's CA",
        cause,
      );
    return toUpstreamError(this.name, error);
  }

  #timeoutError(perTry: boolean, ms: number): UpstreamError {
    return perTry
      ? new UpstreamError(
          UpstreamErrorCodes.perTryTimeout,
          this.name,
          'per-try-timeout',
          `the attempt took longer than perTryTimeout (${ms} ms)`,
          undefined,
          504,
        )
      : new UpstreamError(
          UpstreamErrorCodes.timeout,
          this.name,
          'timeout',
          'the call reached its timeout or the invocation deadline',
          undefined,
          504,
        );
  }

  #target(input: string | URL): Target {
    const text = typeof input === 'string' ? input : input.href;
    if (input instanceof URL || absoluteUrl.test(text)) {
      const url = input instanceof URL ? input : new URL(text);
      const path = url.pathname + url.search;
      if (this.#origins.has(url.origin)) return { origin: undefined, path, url: url.href };
      if (!this.config.passthrough)
        throw new UpstreamError(
          UpstreamErrorCodes.passthroughRefused,
          this.name,
          'rejected',
          `${url.origin} is not one of this upstream's endpoints; use a path, or set upstreams.${this.name}.passthrough: true`,
          undefined,
          500,
        );
      return { origin: url.origin, path, url: url.href };
    }
    const base = this.config.endpoints[0]!;
    const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
    const path = `${prefix}${text.startsWith('/') ? '' : '/'}${text}`;
    return { origin: undefined, path, url: base.origin + path };
  }

  #createPool(origin: string, expectedHost: string): PoolType {
    const connect = this.#tls ? this.#tls.connectFor(expectedHost) : this.#poolOptions.connect;
    return new Pool(origin, { ...this.#poolOptions, ...(connect === undefined ? {} : { connect }) });
  }

  #passthroughAgent(): AgentType {
    this.#agent ??= new Agent({ keepAliveTimeout: this.config.connectionPool.idleTimeoutMs });
    return this.#agent;
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
    ).orWhenResult((result) => isServerError(result));
    const created = circuitBreaker(policy, {
      breaker,
      halfOpenAfter: options.halfOpenAfterMs,
      ...(options.initialState === undefined ? {} : { initialState: options.initialState }),
    });
    created.onStateChange((state: CircuitState) => {
      this.#lastTelemetry?.circuitState(
        this.name,
        circuitStates[state] === 'open' || circuitStates[state] === 'isolated',
      );
      if (circuitChannel.hasSubscribers)
        circuitChannel.publish({ upstream: this.name, state: circuitStates[state] ?? 'closed' });
    });
    return created;
  }
}

function isServerError(result: unknown): boolean {
  return (
    typeof result === 'object' &&
    result !== null &&
    'status' in result &&
    (result as { status: number }).status >= 500
  );
}

function statusRetryAfter(status: number, headers: IncomingHttpHeaders): number | undefined {
  if (status !== 503 && status !== 429) return undefined;
  const value = headers['retry-after'];
  if (typeof value !== 'string') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function endpointOutcome(
  error: Error | undefined,
  status: number | undefined,
  state: CallState,
): EndpointOutcome {
  if (error) return state.aborted ? 'success' : 'gateway-error';
  if (status === 502 || status === 503 || status === 504) return 'gateway-error';
  return status !== undefined && status >= 500 ? 'server-error' : 'success';
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

/** A request body, ready to send once or, when replayable, on every attempt. */
interface PreparedBody {
  readonly value: AttemptRequest['body'];
  readonly replayable: boolean;
}

/**
 * Turns a fetch body into something undici sends. Bytes and text are replayable as they are; a
 * stream is buffered up to `maxReplayBytes` so a retry can resend it — past that it is streamed
 * once and the request is not retried (replay is bounded; memory is the function's).
 */
function preparedBytes(body: string | Uint8Array | null, headers: Record<string, string>): PreparedBody {
  if (typeof body === 'string') headers['content-type'] ??= 'text/plain;charset=UTF-8';
  return { value: body, replayable: true };
}

async function prepareBody(
  body: NonNullable<RequestInit['body']> | null,
  headers: Record<string, string>,
  maxReplayBytes: number,
): Promise<PreparedBody> {
  if (body === null) return { value: null, replayable: true };
  if (typeof body === 'string') {
    headers['content-type'] ??= 'text/plain;charset=UTF-8';
    return { value: body, replayable: true };
  }
  if (body instanceof Uint8Array) return { value: body, replayable: true };
  if (body instanceof ArrayBuffer) return { value: new Uint8Array(body), replayable: true };
  if (ArrayBuffer.isView(body))
    return { value: new Uint8Array(body.buffer, body.byteOffset, body.byteLength), replayable: true };
  if (body instanceof URLSearchParams) {
    headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    return { value: body.toString(), replayable: true };
  }
  // Blob, FormData, ReadableStream: let the platform encode it (and pick the multipart boundary).
  const encoded = new Request('http://body.invalid/', {
    method: 'POST',
    body,
    duplex: 'half',
  } as RequestInit);
  const type = encoded.headers.get('content-type');
  if (type !== null) headers['content-type'] ??= type;
  if (!(body instanceof ReadableStream))
    return { value: new Uint8Array(await encoded.arrayBuffer()), replayable: true };
  const reader = encoded.body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { value: Buffer.concat(chunks), replayable: true };
    chunks.push(value);
    size += value.byteLength;
    if (size > maxReplayBytes) break;
  }
  async function* rest(): AsyncGenerator<Uint8Array> {
    yield* chunks;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  }
  return { value: rest(), replayable: false };
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
      return this.#upstream.fetch(pathOrUrl, init, this.#ctx);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  call<T>(work: (call: UpstreamCallContext) => Promise<T>): Promise<T> {
    return this.#upstream.call(work, this.#ctx);
  }

  circuitState(): unknown {
    return this.#upstream.circuitState();
  }
}
