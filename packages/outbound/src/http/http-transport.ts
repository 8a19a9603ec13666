/**
 * The HTTP transport of an upstream: its undici pools (one per endpoint), the passthrough
 * agent, client TLS, endpoint picking and outlier ejection, and the plan of one `fetch` attempt
 * for the policy chain in ../upstream.ts. Only `@sidecarless/outbound/http` imports this file,
 * so a function whose upstreams are used through `call()` alone never loads undici (279 KB
 * bundled, 64 ms from node_modules; bench/realistic-function.bench.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { deadlineHeader } from '@sidecarless/core';
import type { Agent as AgentType, Pool as PoolType } from 'undici';
import { toUpstreamError, UpstreamError, UpstreamErrorCodes } from '../errors.js';
import { type AttemptStartMessage, attemptEndChannel, attemptStartChannel } from '../events.js';
import { mayRepeat, retriableFailure, retriableStatus } from '../retry-policy.js';
import {
  type AttemptPlan,
  type AttemptTiming,
  type CallState,
  timeoutError,
  type Upstream,
  type UpstreamTransport,
} from '../upstream.js';
import { type Endpoint, type EndpointOutcome, EndpointSet } from './endpoints.js';
import { dispatchUntraced, injectTraceContext, outgoingHeaders } from './propagation.js';
import { TlsConnector } from './tls.js';
import { type AttemptRequest, type AttemptResult, dispatchAttempt, retryAfter } from './transport.js';
import { Agent, Pool } from './undici-parts.js';

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

/** One upstream's HTTP side. */
export class HttpTransport implements UpstreamTransport {
  readonly name: string;
  readonly endpoints: EndpointSet;
  readonly #upstream: Upstream;
  readonly #tls: TlsConnector | undefined;
  readonly #poolOptions: PoolType.Options;
  /**
   * `http1MaxPendingRequests` without `tcp.maxConnections`: the pool opens a connection per
   * request it cannot place, so what waits is what waits for a connection to finish opening (TCP
   * and TLS) — Envoy's pending requests, which undici's pool counts (`stats.pending`).
   * With `maxConnections` set, the upstream's own cap (connections × endpoints + pending) applies.
   */
  readonly #pendingCap: number | undefined;
  readonly #origins: ReadonlySet<string>;
  #agent: AgentType | undefined;

  constructor(upstream: Upstream) {
    const config = upstream.config;
    this.name = upstream.name;
    this.#upstream = upstream;
    const pool = config.connectionPool;
    this.#pendingCap = pool.maxConnections === undefined ? pool.maxPendingRequests : undefined;
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
      () => upstream.lastTelemetry?.upstreamEjection(this.name),
    );
    this.#origins = new Set(config.endpoints.map((url) => url.origin));
  }

  get endpointCount(): number {
    return this.endpoints.all.length;
  }

  start(): Promise<void> {
    return this.endpoints.start();
  }

  reloadTls(): boolean {
    return this.#tls?.reload() ?? false;
  }

  async close(): Promise<void> {
    this.#tls?.close();
    await Promise.all([this.endpoints.close(), this.#agent?.close()]);
  }

  /** Prepares one `fetch` (target, headers, body) and returns its plan for the policy chain. */
  async fetchPlan(
    input: string | URL,
    init: RequestInit | undefined,
    state: CallState,
  ): Promise<AttemptPlan<Response>> {
    const config = this.#upstream.config;
    const target = this.#target(input, config.passthrough);
    const method = (init?.method ?? 'GET').toUpperCase();
    const headers = outgoingHeaders(init?.headers ?? undefined);
    const logicalHost = config.resolution === 'DNS' && !target.origin ? config.endpoints[0]!.host : undefined;
    if (logicalHost) headers.host = logicalHost;
    // A route's `rewrite.authority` (callers' own Host headers are dropped as hop-by-hop).
    if (state.authority !== undefined) headers.host = state.authority;
    const repeatable = mayRepeat(method, headers, config.idempotent);
    const rawBody = init?.body ?? null;
    // Bytes and text are prepared synchronously: an `await` here would cost every call a turn.
    const body =
      rawBody === null || typeof rawBody === 'string' || rawBody instanceof Uint8Array
        ? preparedBytes(rawBody, headers)
        : await prepareBody(rawBody, headers, repeatable ? config.retries.maxBodyBytes : 0);
    const request: AttemptRequest = {
      method,
      path: target.path,
      headers,
      body: body.value,
      reset: config.connectionPool.maxRequestsPerConnection === 1,
    };
    const signal = init?.signal ?? undefined;
    if (signal?.aborted) throw toUpstreamError(this.name, signal.reason);
    let current: { abort(reason: Error): void } | undefined;
    const onAbort = () => {
      state.aborted = toUpstreamError(this.name, signal!.reason);
      current?.abort(state.aborted);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    // Only a repeatable request with a replayable body may be retried on its status.
    const retriableAnswer = (status: number, grpcStatus?: string | string[]) =>
      repeatable && body.replayable && retriableStatus(config.retries, status, grpcStatus);
    return {
      attempt: (attemptState, timing, retryFits) => {
        const decide = (status: number, responseHeaders: IncomingHttpHeaders) =>
          retriableAnswer(status, responseHeaders['grpc-status']) &&
          retryFits(statusRetryAfter(status, responseHeaders));
        return this.#httpAttempt(target, request, attemptState, timing, decide, (attempt) => {
          current = attempt;
        });
      },
      failed: (error, failedState) => {
        const failure = this.#explain(failedState.aborted ?? error);
        return {
          error: failure,
          // A connect failure may be retried whatever the method: nothing reached the server.
          retriable:
            failedState.aborted === undefined &&
            retriableFailure(config.retries, failure.kind) &&
            ((repeatable && body.replayable) || failure.kind === 'connect'),
          reason: failure.code,
        };
      },
      statusOf: (response) => response.status,
      // An injected abort answers as the upstream would with that status (Envoy's fault filter
      // does the same): retried when such an answer may be, else the caller's response.
      injected: (status, retryFits) =>
        retriableAnswer(status) && retryFits(undefined)
          ? { retry: String(status), status }
          : {
              value: new Response('fault filter abort', {
                status,
                headers: { 'content-type': 'text/plain', 'x-sidecarless-fault': 'abort' },
              }),
              status,
            },
      finished: () => signal?.removeEventListener('abort', onAbort),
    };
  }

  #httpAttempt(
    target: Target,
    request: AttemptRequest,
    state: CallState,
    { attemptMs, perTry }: AttemptTiming,
    decide: (status: number, headers: IncomingHttpHeaders) => boolean,
    expose: (attempt: { abort(reason: Error): void }) => void,
  ): Promise<AttemptResult> {
    const now = Date.now();
    let endpoint: Endpoint | undefined;
    if (target.origin === undefined) {
      endpoint = this.endpoints.pick(now);
      if (!endpoint)
        throw new UpstreamError({
          code: UpstreamErrorCodes.connect,
          upstream: this.name,
          kind: 'connect',
          message: 'no endpoint is available (DNS found no address)',
          status: 503,
        });
      if (this.#pendingCap !== undefined && endpoint.pool.stats.pending >= this.#pendingCap)
        throw pendingOverflow(this.name, this.#pendingCap);
      endpoint.active++;
    }
    this.#upstream.inflightAttempts++;
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
      route: state.route?.name,
      subset: state.route?.subset,
      fault: state.fault,
      mirror: state.mirror || undefined,
    });
    if (span && start?.context === undefined) span.inject(headerSetter(headers));
    else injectTraceContext(headers, start?.context);

    let timer: NodeJS.Timeout | undefined;
    const settled = (error: Error | undefined, status: number | undefined) => {
      if (timer !== undefined) clearTimeout(timer);
      this.#upstream.inflightAttempts--;
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
    const attempt = span
      ? dispatchUntraced(() => dispatchAttempt(dispatcher, target.origin, request, decide, settled))
      : dispatchAttempt(dispatcher, target.origin, request, decide, settled);
    expose(attempt);
    if (Number.isFinite(attemptMs)) {
      timer = setTimeout(() => attempt.abort(timeoutError(this.name, perTry, attemptMs)), attemptMs);
      timer.unref();
    }
    return attempt.result;
  }

  /** Maps a transport error, naming a refused client certificate that only shows as a close. */
  #explain(error: unknown): UpstreamError {
    const cause = error instanceof UpstreamError ? undefined : error;
    if (cause !== undefined && this.#tls?.refusedClientCertificate(cause))
      return new UpstreamError({
        code: UpstreamErrorCodes.tlsClientCertRefused,
        upstream: this.name,
        kind: 'tls',
        message:
          "TLS check failed: the server closed the connection without accepting our client certificate; check tls.clientCertificate and the server's CA",
        cause,
      });
    return toUpstreamError(this.name, error);
  }

  #target(input: string | URL, passthrough: boolean): Target {
    const text = typeof input === 'string' ? input : input.href;
    if (input instanceof URL || absoluteUrl.test(text)) {
      const url = input instanceof URL ? input : new URL(text);
      const path = url.pathname + url.search;
      if (this.#origins.has(url.origin)) return { origin: undefined, path, url: url.href };
      if (!passthrough)
        throw new UpstreamError({
          code: UpstreamErrorCodes.passthroughRefused,
          upstream: this.name,
          kind: 'rejected',
          message: `${url.origin} is not one of this upstream's endpoints; use a path, or set upstreams.${this.name}.passthrough: true`,
          status: 500,
        });
      return { origin: url.origin, path, url: url.href };
    }
    const base = this.#upstream.config.endpoints[0]!;
    const prefix = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
    const path = `${prefix}${text.startsWith('/') ? '' : '/'}${text}`;
    return { origin: undefined, path, url: base.origin + path };
  }

  #createPool(origin: string, expectedHost: string): PoolType {
    const connect = this.#tls ? this.#tls.connectFor(expectedHost) : this.#poolOptions.connect;
    return new Pool(origin, { ...this.#poolOptions, ...(connect === undefined ? {} : { connect }) });
  }

  #passthroughAgent(): AgentType {
    this.#agent ??= new Agent({ keepAliveTimeout: this.#upstream.config.connectionPool.idleTimeoutMs });
    return this.#agent;
  }
}

/** The wait a 503 or 429 asks for in `Retry-After`; other statuses ask for none. */
function statusRetryAfter(status: number, headers: IncomingHttpHeaders): number | undefined {
  return status === 503 || status === 429 ? retryAfter(headers['retry-after']) : undefined;
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

function pendingOverflow(upstream: string, cap: number): UpstreamError {
  return new UpstreamError({
    code: UpstreamErrorCodes.overflow,
    upstream,
    kind: 'rejected',
    message: `${cap} requests already wait for a connection, the connectionPool.http.http1MaxPendingRequests limit; failing fast instead of waiting`,
    status: 503,
  });
}
