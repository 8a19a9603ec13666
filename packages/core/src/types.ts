/**
 * The kernel's types, in one module that imports no code of ours: the context a handler sees,
 * the pipeline's stage shapes, the logger, and the views the kernel has of its features (auth
 * identity, telemetry hooks, the outbound client). Every other kernel module and every feature
 * package imports its types from here, so no two modules need each other's types.
 */
import type { X509Certificate } from 'node:crypto';
import type { Span } from '@opentelemetry/api';

/** A log level, pino's names. */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Something to run before the process may be frozen or exit (flush spans, metrics, logs). */
export type Flusher = () => Promise<void> | void;

// --- the invocation context ---------------------------------------------------------------

/** The platforms Sidecarless adapts. Adapters outside this repository may use their own name. */
export type Platform = 'local' | 'aws-lambda' | 'openfaas' | 'knative' | 'kubeless' | (string & {});

/**
 * What caused the invocation, in OpenTelemetry's `faas.trigger` vocabulary: `http`, `pubsub`
 * (queues, topics, CloudEvents), `datasource` (S3, DynamoDB streams), `timer`, `other`.
 */
export type Trigger = 'http' | 'pubsub' | 'datasource' | 'timer' | 'other';

/**
 * The context of one invocation, passed to every handler as its second argument.
 *
 * @typeParam Raw - the platform's own event and context, typed by each adapter.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { invoke } from '@sidecarless/core/local';
 *
 * const mesh = createMesh({ service: 'orders' });
 * const response = await invoke(mesh, async (request, ctx) => {
 *   ctx.log.info({ path: new URL(request.url).pathname }, 'hello');
 *   const upstream = await fetch('http://127.0.0.1:9/slow', { signal: ctx.signal }).catch(() => null);
 *   return Response.json({ id: ctx.invocationId, cold: ctx.coldStart, left: ctx.remainingTime(), upstream: !!upstream });
 * }, 'http://localhost/orders');
 * ```
 */
export interface MeshContext<Raw = unknown> {
  /** The platform's request id (AWS request id, OpenFaaS `X-Call-Id`…), or a generated UUID. */
  readonly invocationId: string;
  /** True only for the first invocation in this process. */
  readonly coldStart: boolean;
  /** When the platform will stop this invocation, in epoch milliseconds. */
  readonly deadline: number;
  /**
   * Aborts `invocation.safetyMargin` before {@link MeshContext.deadline}; pass it to anything
   * that should stop when time runs out. Its `reason` is a `SidecarlessError` with code
   * `SCL_ERR_DEADLINE_EXCEEDED`.
   */
  readonly signal: AbortSignal;
  /** A child logger carrying service, platform, invocation id and cold start. */
  readonly log: Logger;
  /** Which adapter runs this invocation. */
  readonly platform: Platform;
  /** What caused it (`faas.trigger`). */
  readonly trigger: Trigger;
  /** The service name from the mesh options. */
  readonly service: string;
  /** The platform's own event and context, untouched. */
  readonly raw: Raw;
  /** The verified JWT identity, when the request carried a valid token; otherwise undefined. */
  readonly auth: AuthInfo | undefined;
  /** The mTLS peer workload, when one was established; otherwise undefined. */
  readonly peer: PeerIdentity | undefined;
  /**
   * The invocation's tracing and metrics hooks (CLIENT spans, upstream and auth counters) when
   * `telemetry` is configured; otherwise undefined.
   */
  readonly telemetry: InvocationTelemetry | undefined;
  /**
   * What the platform says about the running function, in OpenTelemetry names — for example
   * `faas.name`/`faas.version` from Knative's `K_SERVICE`/`K_REVISION`. Empty when it says nothing.
   */
  readonly attributes: Readonly<Record<string, string>>;
  /** Milliseconds until {@link MeshContext.deadline} (never negative). */
  remainingTime(): number;
  /**
   * The client for the upstream configured under `upstreams[name]`, bound to this invocation:
   * its calls carry the deadline and trace context. Throws for a name that is not configured.
   */
  upstream(name: string): UpstreamClient;
}

/** What an adapter knows about an invocation before it starts. */
export interface InvocationFacts<Raw = unknown> {
  readonly platform: Platform;
  readonly trigger?: Trigger;
  /** The platform's request id; a UUID is generated when absent. */
  readonly invocationId?: string | undefined;
  /** Epoch ms; the mesh's `invocation.timeout` from now when absent. */
  readonly deadline?: number | undefined;
  /**
   * How long before the deadline `ctx.signal` fires, for this invocation; the mesh's
   * `invocation.safetyMargin` when absent. Lets an adapter pick a platform-appropriate default.
   */
  readonly safetyMarginMs?: number | undefined;
  readonly raw?: Raw;
  /**
   * The address of the direct peer: the TCP remote address, or the client address API Gateway
   * reports (`requestContext.http.sourceIp`). Feeds `source.ip` in authorization policies.
   */
  readonly sourceIp?: string | undefined;
  /** Whether the connection this request arrived on was TLS. Servers set it; `STRICT` mTLS reads it. */
  readonly transport?: 'tls' | 'plaintext' | undefined;
  /** The client certificate of a mutual-TLS connection, when there was one. */
  readonly peerCertificate?: PeerCertificateFact | undefined;
  /**
   * Trace parent (when not in the request's headers: X-Ray, a CloudEvent's `traceparent`
   * extension), batch links, cloud and FaaS facts for the telemetry stage.
   */
  readonly telemetry?: TelemetryFacts | undefined;
  /** Platform facts in OpenTelemetry attribute names (`faas.name`, `faas.version`…). */
  readonly attributes?: Readonly<Record<string, string>> | undefined;
}

// --- the pipeline -----------------------------------------------------------------------------

/** The rest of the HTTP pipeline, as seen by a stage. */
export type HttpNext = (request: Request, ctx: MeshContext) => Promise<Response>;
/** The rest of the event pipeline, as seen by a stage. */
export type EventNext = (event: unknown, ctx: MeshContext) => Promise<unknown>;

/**
 * One step of the pipeline. A stage wraps the rest of the chain once, when the pipeline is
 * built, and returns the function called per invocation.
 *
 * @example
 * ```ts
 * import { createMesh, type Stage } from '@sidecarless/core';
 *
 * const poweredBy: Stage = {
 *   name: 'powered-by',
 *   http: (next) =>
 *     async function poweredByStage(request, ctx) {
 *       const response = await next(request, ctx);
 *       response.headers.set('x-powered-by', 'sidecarless');
 *       return response;
 *     },
 * };
 * const mesh = createMesh({ service: 'orders', middleware: [poweredBy] });
 * ```
 */
export interface Stage {
  /** Shown in logs and errors. */
  readonly name: string;
  /** Wraps the HTTP chain. */
  http?(next: HttpNext): HttpNext;
  /** Wraps the event chain (SQS, SNS, CloudEvents…). */
  event?(next: EventNext): EventNext;
  /**
   * Wraps the run of a whole batch that an adapter makes around its records' own runs (one SQS
   * or stream invocation). Only stages that define it take part: telemetry opens the
   * invocation's span there; user middleware and policy stages run on each record.
   */
  batch?(next: EventNext): EventNext;
}

/** An HTTP handler: a standard Fetch `Request` in, a standard `Response` out. */
export type HttpHandler<Raw = unknown> = (
  request: Request,
  ctx: MeshContext<Raw>,
) => Response | Promise<Response>;

/** An event handler: the typed event in, whatever the platform expects back out. */
export type EventHandler<Event, Result = void, Raw = unknown> = (
  event: Event,
  ctx: MeshContext<Raw>,
) => Result | Promise<Result>;

// --- logging -----------------------------------------------------------------------------------

/**
 * A log method, called as pino's are: `log.info('message %s', arg)`, `log.info({ fields },
 * 'message')`, or `log.error(error, 'message')` (the error is written under `err`).
 */
export interface LogFn {
  (object: unknown, message?: string, ...args: unknown[]): void;
  (message: string, ...args: unknown[]): void;
}

/** The structured logger on `mesh.log` and `ctx.log`. */
export interface Logger {
  /** The minimum level written; assigning a level name changes it for this logger. */
  level: LogLevel;
  readonly fatal: LogFn;
  readonly error: LogFn;
  readonly warn: LogFn;
  readonly info: LogFn;
  readonly debug: LogFn;
  readonly trace: LogFn;
  /** Writes nothing (pino's `silent` method). */
  readonly silent: LogFn;
  /** A logger whose every line carries `bindings` after its parent's. */
  child(bindings: Record<string, unknown>): Logger;
  /** The fields every line of this logger carries (the service's and every parent's bindings). */
  bindings(): Record<string, unknown>;
  /** Whether a line at `level` would be written. */
  isLevelEnabled(level: LogLevel): boolean;
  /** Flushes the destination when it buffers (standard output is written synchronously). */
  flush(callback?: (error?: Error) => void): void;
}

// --- identity (the auth feature sets it) -------------------------------------------------------

/**
 * Identity types the kernel owns, so handlers and other features can read `ctx.auth` and
 * `ctx.peer` without loading the auth feature.
 */

/** The verified caller behind a JWT (Istio's request principal). */
export interface AuthInfo {
  /** `iss` claim. */
  readonly issuer: string;
  /** `sub` claim. */
  readonly subject: string | undefined;
  /** `aud` claim, always as a list. */
  readonly audiences: readonly string[];
  /** Istio's request principal: `iss/sub`. */
  readonly principal: string;
  /** Every claim of the verified token. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** The workload on the other end of an mTLS connection (Istio's source principal). */
export interface PeerIdentity {
  /** Istio's form, `cluster.local/ns/<ns>/sa/<sa>`, from a SPIFFE URI SAN; otherwise the subject. */
  readonly principal: string;
  /** The SPIFFE id, when the certificate carries one. */
  readonly spiffeId: string | undefined;
  /** The namespace part of a SPIFFE id. */
  readonly namespace: string | undefined;
  /** Where the identity came from. */
  readonly source: 'tls' | 'api-gateway' | 'xfcc';
}

/**
 * A client certificate an adapter saw for this invocation. Servers that terminate TLS fill it from
 * `socket.getPeerX509Certificate()` and `socket.authorized`; the Lambda adapter from API Gateway's
 * mutual-TLS `clientCert.clientCertPem` (API Gateway has already verified it against its
 * truststore).
 *
 * @example
 * ```ts no-check
 * // in a TLS server adapter, per request
 * const socket = req.socket as TLSSocket;
 * const cert = socket.getPeerX509Certificate();
 * const facts = {
 *   platform: 'openfaas',
 *   sourceIp: socket.remoteAddress,
 *   transport: 'tls',
 *   peerCertificate: cert && { certificate: cert, source: 'tls', verified: socket.authorized },
 * };
 * ```
 */
export interface PeerCertificateFact {
  /** The leaf certificate, PEM text or parsed. */
  readonly certificate: string | X509Certificate;
  /** Who presented it to us. */
  readonly source: 'tls' | 'api-gateway';
  /** True when whoever terminated TLS verified the chain against its trusted CAs. */
  readonly verified: boolean;
}

// --- telemetry hooks (the telemetry feature provides them) -------------------------------------

/**
 * An incoming trace context that did not arrive as HTTP headers (those are read from the
 * `Request` directly). Every field is optional; the first usable one wins, in the order W3C
 * `traceparent`, then `xRay`.
 */
export interface TraceCarrier {
  /** W3C `traceparent` (HTTP header, CloudEvents distributed-tracing extension, SQS/SNS attribute). */
  readonly traceparent?: string | undefined;
  /** W3C `tracestate`, kept with the parent. */
  readonly tracestate?: string | undefined;
  /** W3C `baggage`. */
  readonly baggage?: string | undefined;
  /**
   * An AWS X-Ray trace header: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`
   * (Lambda's `_X_AMZN_TRACE_ID`, an SQS message's `AWSTraceHeader`).
   */
  readonly xRay?: string | undefined;
}

/**
 * What an adapter tells the telemetry stage about an invocation, on
 * `InvocationFacts.telemetry`. All optional: the local adapter passes none.
 *
 * @example
 * ```ts
 * import type { TelemetryFacts } from '@sidecarless/core';
 *
 * // What a Lambda adapter passes for an SQS batch of two messages.
 * const facts: TelemetryFacts = {
 *   kind: 'consumer',
 *   spanName: 'orders-queue process',
 *   parent: { xRay: process.env._X_AMZN_TRACE_ID },
 *   links: [{ xRay: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1' }, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }],
 *   cloud: { provider: 'aws', region: 'eu-west-1', accountId: '123456789012' },
 *   faas: { name: 'orders', version: '$LATEST', maxMemoryMb: 512 },
 * };
 * ```
 */
export interface TelemetryFacts {
  /** `server` (default: HTTP, synchronous invokes) or `consumer` (queues, topics, CloudEvents). */
  readonly kind?: 'server' | 'consumer';
  /**
   * The span name. Default, HTTP: `"<METHOD> <route>"` when the route is known, else
   * `"<METHOD>"` (`"HTTP"` for a method outside RFC 9110), as the HTTP semantic conventions
   * name server spans; events: `faas.name` (the function's name), as the FaaS conventions do.
   */
  readonly spanName?: string;
  /**
   * The matched route template, when the platform knows it (`http.route`): API Gateway's
   * `resource` (`/orders/{id}`) or the path of its `routeKey`.
   */
  readonly route?: string | undefined;
  /**
   * This run is one record of an invocation traced as a whole (a batch run, `batch` stages):
   * its span is the child of the batch's span (the `parent` the adapter passes), and it counts
   * no invocation metrics, writes no access line and sets no timeout watchdog of its own — the
   * batch's do.
   */
  readonly withinInvocation?: boolean | undefined;
  /** Further span attributes only the platform knows (`messaging.system`, `messaging.message.id`…). */
  readonly attributes?: Readonly<Record<string, string | number | boolean>> | undefined;
  /** The parent context when it is not in the request's headers. */
  readonly parent?: TraceCarrier;
  /** One per message of a batch: the invocation span links to each message's context. */
  readonly links?: readonly TraceCarrier[];
  /** `cloud.provider`, `cloud.region`, `cloud.account.id`. */
  readonly cloud?: {
    readonly provider?: string | undefined;
    readonly region?: string | undefined;
    readonly accountId?: string | undefined;
  };
  /** `faas.name` (default: the service), `faas.version`, `faas.max_memory` (MiB), `faas.instance`. */
  readonly faas?: {
    readonly name?: string | undefined;
    readonly version?: string | undefined;
    readonly maxMemoryMb?: number | undefined;
    readonly instance?: string | undefined;
  };
}

/** One outbound attempt, as the outbound client describes it to {@link InvocationTelemetry.startClientSpan}. */
export interface OutboundAttempt {
  /** The configured upstream's name (`upstreams[name]`), the `upstream` metric label. */
  readonly upstream: string;
  readonly method: string;
  readonly url: URL;
  /** 0 for the first try, 1 for the first retry… (`http.request.resend_count`). */
  readonly attempt: number;
  /** The traffic route that decided the call (`sidecarless.route`), when routes are configured. */
  readonly route?: string | undefined;
  /** The subset it went to (`sidecarless.subset`). */
  readonly subset?: string | undefined;
  /** A fault injected into this attempt: `abort` or `delay` (`sidecarless.fault`). */
  readonly fault?: 'abort' | 'delay' | undefined;
  /** A route's mirrored copy, sent to the mirror with its answer discarded (`sidecarless.mirror`). */
  readonly mirror?: boolean | undefined;
}

/** Where {@link ClientSpan.inject} writes: a Fetch `Headers` or any `set(name, value)`. */
export interface HeaderSetter {
  set(name: string, value: string): void;
}

/** A CLIENT span in progress. */
export interface ClientSpan {
  /**
   * Writes `traceparent` (and `tracestate`/`baggage` when present) into the outgoing headers: a
   * Fetch `Headers`, or anything with `set(name, value)`.
   */
  inject(headers: HeaderSetter): void;
  /**
   * Ends the span and counts `serverless_upstream_requests_total{upstream, code}` — `code` is the
   * HTTP status, or the error's code (`SCL_ERR_TIMEOUT`, `ECONNREFUSED`…) when there was none.
   * A routed attempt also counts `serverless_upstream_route_requests_total{upstream, route,
   * subset, fault}`.
   */
  end(outcome: { readonly status?: number; readonly error?: unknown }): void;
}

/**
 * The telemetry of one invocation, on `ctx.telemetry` while the telemetry feature is on. The
 * outbound client and the auth stage call it; handlers rarely need to.
 *
 * @example
 * ```ts
 * import type { MeshContext } from '@sidecarless/core';
 *
 * async function callInventory(ctx: MeshContext, url: URL): Promise<Response> {
 *   const span = ctx.telemetry?.startClientSpan({ upstream: 'inventory', method: 'GET', url, attempt: 0 });
 *   const headers = new Headers();
 *   span?.inject(headers);
 *   try {
 *     const response = await fetch(url, { headers, signal: ctx.signal });
 *     span?.end({ status: response.status });
 *     return response;
 *   } catch (error) {
 *     span?.end({ error });
 *     throw error;
 *   }
 * }
 * ```
 */
export interface InvocationTelemetry {
  /**
   * The invocation's SERVER/CONSUMER span (a non-recording one when not sampled); undefined
   * when `telemetry.tracing` is not configured.
   */
  readonly span: Span | undefined;
  /** Starts a CLIENT span, child of the invocation span, for one outbound attempt. */
  startClientSpan(attempt: OutboundAttempt): ClientSpan;
  /** Counts `serverless_upstream_retries_total{upstream}`. */
  upstreamRetry(upstream: string): void;
  /** Sets the `serverless_upstream_circuit_open{upstream}` gauge (1 open, 0 closed). */
  circuitState(upstream: string, open: boolean): void;
  /** Counts `serverless_upstream_ejections_total{upstream}` (outlier detection). */
  upstreamEjection(upstream: string): void;
  /** Counts `serverless_auth_denied_total{reason}`; `reason` is a short code, never a token. */
  authDenied(reason: string): void;
  /**
   * Counts `serverless_upstream_mirrors_total{upstream, outcome}`: a mirrored copy `sent`,
   * `dropped` (over the cap, past the deadline, or a body that cannot be replayed) or `failed`
   * (a 5xx or no answer). The traffic feature calls it; optional for other implementations.
   */
  upstreamMirror?(upstream: string, outcome: 'sent' | 'dropped' | 'failed'): void;
  /**
   * Counts `serverless_rate_limited_total{descriptor, mode}`: a request over the limit named
   * `descriptor`, refused (`enforce`) or only counted (`shadow`). The rate-limit feature calls it.
   */
  rateLimited?(descriptor: string, mode: 'enforce' | 'shadow'): void;
  /**
   * Counts `serverless_rate_limit_store_failures_total{failure_mode}`: a shared check the store
   * could not answer in time, decided by the local bucket (`open`) or refused (`closed`).
   */
  rateLimitStoreFailure?(failureMode: 'open' | 'closed'): void;
}

// --- the outbound client (the outbound feature provides it) -------------------------------------

/** What a policy-wrapped call receives. */
export interface UpstreamCallContext {
  /** Aborts when the call's timeout, the invocation deadline or the caller's signal fires. */
  readonly signal: AbortSignal;
  /** Which attempt this is, starting at 1. */
  readonly attempt: number;
}

/** A configured upstream, as handed to handlers by `ctx.upstream(name)`. */
export interface UpstreamClient {
  /** The upstream's configured name. */
  readonly name: string;
  /**
   * Sends an HTTP request through the upstream's policies (deadline, timeout, retries, circuit
   * breaker, pool, TLS) and returns a standard `Response`. `pathOrUrl` is a path relative to the
   * upstream's endpoint, or an absolute URL on it.
   */
  fetch(pathOrUrl: string | URL, init?: RequestInit): Promise<Response>;
  /** Runs any async work (an AWS SDK call, a query) under the same policies. */
  call<T>(work: (call: UpstreamCallContext) => Promise<T>): Promise<T>;
  /**
   * The circuit breaker's state (`undefined` without a breaker), serialisable: save it and pass
   * it back as `circuitBreaker.initialState` to carry the circuit across a cold start.
   */
  circuitState?(): unknown;
}

/** Supplies upstream clients; installed by the outbound feature. */
export interface UpstreamProvider {
  /** The client for `name`, bound to the invocation `ctx` (its deadline and trace), or unbound at init. */
  client(name: string, ctx: MeshContext | undefined): UpstreamClient;
}

// --- shared state (the redis feature provides it) -------------------------------------------------

/**
 * A token bucket, as Envoy describes one: at most `maxTokens`, refilled with `tokensPerFill`
 * every `fillIntervalMs` (continuously: a fraction of a fill is credited as time passes).
 */
export interface TokenBucketSpec {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalMs: number;
}

/** What a shared bucket answered. */
export interface BucketGrant {
  /** Tokens granted: 0 when refused; up to the asked lease when allowed. */
  readonly granted: number;
  /** Whole tokens left in the shared bucket after this take. */
  readonly remaining: number;
  /** Milliseconds until the bucket holds one token again (0 when it holds one now). */
  readonly retryAfterMs: number;
}

/**
 * State shared by every instance of a function — rate-limit buckets, circuit-breaker states —
 * kept where all instances reach it (`@sidecarless/redis`). Every method answers within the
 * store's time budget or rejects: a store that is down or slow never holds an invocation.
 */
export interface SharedStore {
  /**
   * Takes between 1 and `lease` tokens from the bucket `key` in one atomic step (one round
   * trip): as many as it holds up to `lease`, or none when it holds less than one.
   */
  take(key: string, bucket: TokenBucketSpec, lease: number): Promise<BucketGrant>;
  /** Reads a value; undefined when absent. */
  get(key: string): Promise<string | undefined>;
  /** Writes a value that expires after `ttlMs`. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** False while the store's breaker is open (calls reject at once). */
  readonly available: boolean;
}

/** What a feature that keeps shared state (`@sidecarless/redis`) offers the others. */
export interface SharedStoreProvider {
  /** The store of this mesh, from the provider's own checked section. */
  sharedStore(section: unknown): SharedStore;
}

// --- outbound rate limits (the rate-limit feature provides them) ---------------------------------

/**
 * A limit on calls to one upstream (a partner API's quota): each attempt takes a token first.
 * The outbound client calls it; the rate-limit feature implements it.
 */
export interface CallLimiter {
  /**
   * Resolves when the attempt may go; waits for a token up to `deadline` (epoch ms) when the
   * limit says so, and rejects — with an error naming the upstream and the limit — when none
   * comes in time or the limit fails fast.
   */
  acquire(deadline: number): Promise<void>;
}

/** What the rate-limit feature offers the outbound client for `upstreams.<name>.rateLimit`. */
export interface CallLimiterProvider {
  /** Checks an upstream's `rateLimit` value; the result is handed back to `createCallLimiter`. */
  checkCallLimit(value: unknown, path: string, issues: import('./options/schema.js').IssueList): unknown;
  /** The limiter of one upstream, at `createMesh`. `feature` finds the shared store's feature. */
  createCallLimiter(
    checked: unknown,
    upstream: string,
    host: {
      readonly service: string;
      feature(name: string): { readonly feature: unknown; readonly section: unknown } | undefined;
    },
  ): CallLimiter;
}
