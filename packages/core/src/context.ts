/**
 * `MeshContext`: what the handler knows about its invocation. Built per invocation by the
 * pipeline; the parts that cost something (the child logger, the deadline timer and its
 * `AbortSignal`) are built only when the handler first touches them.
 */
import type { AuthInfo, PeerCertificateFact, PeerIdentity } from './auth-types.js';
import { ErrorCodes, SidecarlessError } from './errors.js';
import type { Logger } from './logger.js';
import { nodeBuiltin } from './node-builtin.js';
import type { InvocationTelemetry, TelemetryFacts } from './telemetry/types.js';
import type { UpstreamClient, UpstreamProvider } from './upstream-types.js';

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

/** What every invocation context of one mesh shares. @internal */
export interface ContextHost {
  readonly service: string;
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly safetyMarginMs: number;
  /** The installed outbound client, if upstreams are configured. */
  upstreams(): UpstreamProvider | undefined;
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

const noAttributes: Readonly<Record<string, string>> = Object.freeze({});

// Cold start is a fact about the process, not about one mesh: two meshes (or the ESM and CJS
// copies of this package) must agree that only the very first invocation was cold.
const coldStartKey = Symbol.for('sidecarless.process-has-invoked');
type ProcessFlags = { [coldStartKey]?: boolean };

function takeColdStart(): boolean {
  const flags = globalThis as ProcessFlags;
  if (flags[coldStartKey]) return false;
  flags[coldStartKey] = true;
  return true;
}

/** The pipeline's implementation of {@link MeshContext}. @internal */
export class InvocationContext<Raw = unknown> implements MeshContext<Raw> {
  readonly coldStart: boolean;
  readonly deadline: number;
  readonly platform: Platform;
  readonly trigger: Trigger;
  readonly service: string;
  readonly raw: Raw;
  readonly attributes: Readonly<Record<string, string>>;
  /** Set by the authentication stage. */
  auth: AuthInfo | undefined = undefined;
  /** Set by the adapter or the authentication stage. */
  peer: PeerIdentity | undefined = undefined;
  /** Connection facts from the adapter, read by the authentication stage. */
  readonly sourceIp: string | undefined;
  readonly transport: 'tls' | 'plaintext' | undefined;
  readonly peerCertificate: PeerCertificateFact | undefined;
  /** Set by the telemetry stage. */
  telemetry: InvocationTelemetry | undefined = undefined;
  /** Set by the telemetry stage: `trace_id`, `span_id`, `trace_flags` for {@link log}. */
  traceLogFields: Readonly<Record<string, string>> | undefined = undefined;
  readonly telemetryFacts: TelemetryFacts | undefined;
  readonly #host: ContextHost;
  readonly #signalAt: number;
  #log: Logger | undefined;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #disposed = false;
  #invocationId: string | undefined;

  constructor(facts: InvocationFacts<Raw>, host: ContextHost) {
    this.#invocationId = facts.invocationId || undefined;
    this.coldStart = takeColdStart();
    this.deadline = facts.deadline ?? Date.now() + host.timeoutMs;
    this.#signalAt = this.deadline - (facts.safetyMarginMs ?? host.safetyMarginMs);
    this.platform = facts.platform;
    this.trigger = facts.trigger ?? 'http';
    this.service = host.service;
    this.raw = facts.raw as Raw;
    this.sourceIp = facts.sourceIp;
    this.transport = facts.transport;
    this.peerCertificate = facts.peerCertificate;
    this.telemetryFacts = facts.telemetry;
    this.attributes = facts.attributes ?? noAttributes;
    this.#host = host;
  }

  /**
   * The platform's id, or a random UUID made the first time it is read: most invocations on a
   * server without a request id never read it, and `randomUUID` was ~0.3 µs of each.
   */
  get invocationId(): string {
    // node:crypto is fetched here, not imported: see nodeBuiltin in node-builtin.ts.
    this.#invocationId ??= nodeBuiltin('node:crypto').randomUUID();
    return this.#invocationId;
  }

  get log(): Logger {
    // A child logger costs a few µs; most invocations that never log should not pay it.
    // Trace ids are child bindings, serialised once per invocation, rather than a mixin
    // that would run (and read the active context) on every line. Measured with the kernel's
    // redaction paths: +18 µs once per invocation for the three ids; each further line costs
    // the same with or without them (bench/telemetry.bench.ts, "log correlation").
    this.#log ??= this.#host.log.child({
      invocation_id: this.invocationId,
      platform: this.platform,
      cold_start: this.coldStart,
      ...this.traceLogFields,
    });
    return this.#log;
  }

  get signal(): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    const delay = this.#signalAt - Date.now();
    if (delay <= 0) {
      controller.abort(deadlineError());
    } else {
      // One timer per invocation, and only when someone asked for the signal.
      this.#timer = setTimeout(() => controller.abort(deadlineError()), delay);
      // Ref'd while the invocation runs: a handler that only awaits ctx.signal must keep the
      // event loop alive (an unref'd timer let the Lambda runtime process exit mid-invocation).
      // Once the invocation is over nothing should hold the process open for it.
      if (this.#disposed) this.#timer.unref();
    }
    return controller.signal;
  }

  remainingTime(): number {
    return Math.max(0, this.deadline - Date.now());
  }

  upstream(name: string): UpstreamClient {
    const provider = this.#host.upstreams();
    if (!provider) throw unknownUpstream(name);
    return provider.client(name, this);
  }

  /**
   * Set by the telemetry stage: ends the invocation's span and writes its access line when the
   * mesh answers for a handler that has not finished (a deadline, a drain cut short).
   */
  onAbandon: ((error: unknown) => void) | undefined = undefined;

  /**
   * The mesh answered without the handler: its signal aborts with `error` (the handler should
   * stop), and the telemetry recorded so far is ended rather than lost.
   */
  abandon(error: unknown): void {
    const controller = this.#controller;
    if (controller && !controller.signal.aborted) controller.abort(error);
    const onAbandon = this.onAbandon;
    this.onAbandon = undefined;
    onAbandon?.(error);
  }

  /** Ends the invocation's timers. Called by the pipeline in `finally`. */
  dispose(): void {
    this.#disposed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    // When the mesh answered 504 because the deadline passed, the handler may still be running:
    // its signal must fire now, since the timer that would have fired it is gone.
    const controller = this.#controller;
    if (controller && !controller.signal.aborted && Date.now() >= this.#signalAt)
      controller.abort(deadlineError());
  }
}

/** The error for `upstream(name)` when `upstreams[name]` is not configured. */
export function unknownUpstream(name: string): SidecarlessError {
  return new SidecarlessError(
    ErrorCodes.unknownUpstream,
    `no upstream named "${name}"; configure it under upstreams.${name} in createMesh`,
    { status: 500 },
  );
}

/** The error a deadline aborts with. */
export function deadlineError(): SidecarlessError {
  return new SidecarlessError(ErrorCodes.deadlineExceeded, 'the invocation reached its deadline', {
    status: 504,
    expose: true,
  });
}
