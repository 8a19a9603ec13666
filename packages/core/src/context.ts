/**
 * `MeshContext`: what the handler knows about its invocation. Built per invocation by the
 * pipeline; the parts that cost something (the child logger, the deadline timer and its
 * `AbortSignal`) are built only when the handler first touches them.
 */
import { ErrorCodes, SidecarlessError } from './errors.js';
import { nodeBuiltin } from './node-builtin.js';
import type {
  AuthInfo,
  InvocationFacts,
  InvocationTelemetry,
  Logger,
  MeshContext,
  PeerCertificateFact,
  PeerIdentity,
  Platform,
  TelemetryFacts,
  Trigger,
  UpstreamClient,
  UpstreamProvider,
} from './types.js';

export type { InvocationFacts, MeshContext, Platform, Trigger };

/** What every invocation context of one mesh shares. @internal */
export interface ContextHost {
  readonly service: string;
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly safetyMarginMs: number;
  /** The installed outbound client, if upstreams are configured. */
  upstreams(): UpstreamProvider | undefined;
  /**
   * Counts the context in as it is made and out as it is disposed, so a replaced configuration
   * closes only once the invocations it serves have finished (generation.ts).
   */
  enter(): void;
  leave(): void;
}

const noAttributes: Readonly<Record<string, string>> = Object.freeze({});

// Cold start is a fact about the process, not about one mesh: two meshes (or the ESM and CJS
// copies of this package) must agree that only the very first invocation was cold. The first
// invocation's id is kept, so every context of that invocation — a batch's records each have
// one, after the batch's own — is cold too.
const coldStartKey = Symbol.for('sidecarless.process-has-invoked');
type ProcessFlags = { [coldStartKey]?: string | true };

function takeColdStart(invocationId: string | undefined): boolean {
  const flags = globalThis as ProcessFlags;
  const first = flags[coldStartKey];
  if (first !== undefined) return invocationId !== undefined && first === invocationId;
  flags[coldStartKey] = invocationId ?? true;
  return true;
}

/**
 * What a feature reads and sets on an invocation's context, beyond {@link MeshContext}: the
 * connection facts the adapter gave, and the identity and telemetry slots the auth and
 * telemetry stages fill. Reached with {@link invocationOf}.
 */
export interface FeatureContext extends MeshContext {
  /** Set by the authentication stage. */
  auth: AuthInfo | undefined;
  /** Set by the adapter or the authentication stage. */
  peer: PeerIdentity | undefined;
  /** Set by the telemetry stage. */
  telemetry: InvocationTelemetry | undefined;
  /** Set by the telemetry stage: `trace_id`, `span_id`, `trace_flags` for the context's logger. */
  traceLogFields: Readonly<Record<string, string>> | undefined;
  /** Set by the telemetry stage: ends the span and access line when the mesh answers for the handler. */
  onAbandon: ((error: unknown) => void) | undefined;
  readonly sourceIp: string | undefined;
  readonly transport: 'tls' | 'plaintext' | undefined;
  readonly peerCertificate: PeerCertificateFact | undefined;
  readonly telemetryFacts: TelemetryFacts | undefined;
}

/**
 * The invocation behind `ctx`, for a feature's stage to read connection facts and set identity
 * or telemetry. Throws for a context the pipeline did not make (a hand-built test double).
 */
export function invocationOf(ctx: MeshContext): FeatureContext {
  // A brand, not instanceof: a feature package may load the other (ESM or CommonJS) copy of core.
  if ((ctx as { [invocationBrand]?: boolean })[invocationBrand] === true) return ctx as FeatureContext;
  throw new TypeError('expected the MeshContext the Sidecarless pipeline passes to a stage');
}

const invocationBrand = Symbol.for('sidecarless.invocation-context');

/** The pipeline's implementation of {@link MeshContext}. @internal */
export class InvocationContext<Raw = unknown> implements FeatureContext, MeshContext<Raw> {
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
    this.coldStart = takeColdStart(this.#invocationId);
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
    host.enter();
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
    if (!this.#disposed) this.#host.leave();
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

// On the prototype, so no invocation pays a property store for it.
Object.defineProperty(InvocationContext.prototype, invocationBrand, { value: true });

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
