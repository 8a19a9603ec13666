/**
 * The facts only Lambda knows, turned into the kernel's `InvocationFacts`, and the bounded
 * flush every wrapper ends with.
 */
import type { Mesh, Trigger } from '@sidecarless/core';
import { FlushTimes, flushPending, type InvocationFacts } from '@sidecarless/core/adapter';
import type { LambdaContext, LambdaRaw } from './types.js';

type TelemetryFacts = NonNullable<InvocationFacts['telemetry']>;
type TraceCarrier = NonNullable<TelemetryFacts['parent']>;

/** What a wrapper adds to the common facts: connection facts (HTTP), span links (batches). */
export interface ExtraFacts {
  readonly connection?: Partial<Pick<InvocationFacts, 'sourceIp' | 'transport' | 'peerCertificate'>>;
  readonly links?: readonly TraceCarrier[];
  readonly spanName?: string;
  /** The matched route template (`http.route`), when the event names one. */
  readonly route?: string | undefined;
  /** Span attributes of the invocation (a batch's `messaging.*`). */
  readonly attributes?: TelemetryFacts['attributes'];
}

/** How the wrappers treat time, normalised once per wrapper. */
export interface TimingOptions {
  /** Fixed margin in ms, or undefined for the adaptive default. */
  readonly safetyMarginMs: number | undefined;
  /** The mesh's own `invocation.safetyMargin` (0 when not configured). */
  readonly meshSafetyMarginMs: number;
  /** The wrapper's cache of the environment's cloud and FaaS facts. */
  readonly platform: PlatformFacts;
}

/**
 * The `cloud`/`faas` telemetry facts of the execution environment, built once per wrapper and
 * rebuilt only when the context says something else (another alias in the ARN): they are the
 * same on every warm invocation, so building them each time would be allocation for nothing.
 */
export class PlatformFacts {
  #key: string | undefined;
  #facts: TelemetryFacts | undefined;
  readonly #region = process.env.AWS_REGION || undefined;

  of(context: LambdaContext): TelemetryFacts {
    const key = `${context.invokedFunctionArn}|${context.functionName}|${context.functionVersion}|${context.memoryLimitInMB}`;
    if (this.#facts !== undefined && key === this.#key) return this.#facts;
    const memory = Number(context.memoryLimitInMB);
    this.#key = key;
    this.#facts = Object.freeze({
      cloud: Object.freeze({
        provider: 'aws',
        region: this.#region,
        accountId: accountIdOf(context.invokedFunctionArn),
      }),
      faas: Object.freeze({
        name: context.functionName || undefined,
        version: context.functionVersion || undefined,
        maxMemoryMb: Number.isFinite(memory) && memory > 0 ? memory : undefined,
      }),
    });
    return this.#facts;
  }
}

/**
 * The default margin when neither the wrapper nor the mesh names one: a tenth of the time the
 * invocation has, between 50 ms and 500 ms. With Lambda's default 3 s timeout that is 300 ms —
 * time to flush logs and answer before the platform kills the environment mid-write.
 *
 * @example
 * ```ts
 * import { adaptiveSafetyMargin } from '@sidecarless/lambda';
 *
 * adaptiveSafetyMargin(3_000); // 300
 * adaptiveSafetyMargin(60_000); // 500
 * ```
 */
export function adaptiveSafetyMargin(remainingMs: number): number {
  return Math.min(500, Math.max(50, Math.floor(remainingMs / 10)));
}

/** The trace header: the runtime's `xRayTraceId` if it gives one, else `_X_AMZN_TRACE_ID`. */
export function traceHeaderOf(context: LambdaContext): string | undefined {
  return context.xRayTraceId || process.env._X_AMZN_TRACE_ID || undefined;
}

/** Checks the context looks like Lambda's, so a wrong call fails clearly instead of deep inside. */
export function checkContext(context: unknown): asserts context is LambdaContext {
  const candidate = context as Partial<LambdaContext> | null | undefined;
  if (!candidate || typeof candidate.getRemainingTimeInMillis !== 'function') {
    throw new TypeError(
      'expected the Lambda context as the second argument (with getRemainingTimeInMillis); export the wrapped function as the Lambda handler',
    );
  }
}

/**
 * `ctx.raw`: the event and context as given, and the trace header read only when asked for.
 * Reading `process.env` costs ~0.3 µs, a tenth of a warm invocation through the adapter
 * (bench/lambda-overhead.bench.ts), and most invocations never need the header.
 */
class RawFacts<Event> implements LambdaRaw<Event> {
  #xrayTraceId: string | undefined | null = null;

  constructor(
    readonly event: Event,
    readonly context: LambdaContext,
  ) {}

  get xrayTraceId(): string | undefined {
    if (this.#xrayTraceId === null) this.#xrayTraceId = traceHeaderOf(this.context);
    return this.#xrayTraceId;
  }

  toJSON(): LambdaRaw<Event> {
    return { event: this.event, context: this.context, xrayTraceId: this.xrayTraceId };
  }
}

/**
 * The telemetry stage's facts. Span kind as OpenTelemetry's FaaS conventions give it: messages
 * (`pubsub`: SQS, SNS, EventBridge events) are CONSUMER spans; HTTP, data sources (S3), timers
 * (scheduled events) and direct invokes are SERVER spans. The X-Ray header is the parent (API
 * Gateway and Function URLs also forward `traceparent`, which the stage reads from the request
 * first). The parent is read when tracing asks for it, not before.
 */
class LambdaTelemetryFacts {
  readonly cloud: TelemetryFacts['cloud'];
  readonly faas: TelemetryFacts['faas'];
  readonly kind: 'server' | 'consumer';
  readonly links: TelemetryFacts['links'];
  readonly spanName: string | undefined;
  readonly route: string | undefined;
  readonly attributes: TelemetryFacts['attributes'];
  readonly #raw: RawFacts<unknown>;

  constructor(
    platform: TelemetryFacts,
    trigger: Trigger,
    raw: RawFacts<unknown>,
    extra: ExtraFacts | undefined,
  ) {
    this.cloud = platform.cloud;
    this.faas = platform.faas;
    this.kind = trigger === 'pubsub' ? 'consumer' : 'server';
    this.links = extra?.links && extra.links.length > 0 ? extra.links : undefined;
    this.spanName = extra?.spanName || undefined;
    this.route = extra?.route || undefined;
    this.attributes = extra?.attributes;
    this.#raw = raw;
  }

  get parent(): TraceCarrier | undefined {
    const xRay = this.#raw.xrayTraceId;
    return xRay ? { xRay } : undefined;
  }
}

/** The kernel's facts for one invocation. */
export function factsOf<Event>(
  event: Event,
  context: LambdaContext,
  trigger: Trigger,
  timing: TimingOptions,
  extra?: ExtraFacts,
): InvocationFacts<LambdaRaw<Event>> {
  const remaining = Math.max(0, context.getRemainingTimeInMillis());
  const raw = new RawFacts(event, context);
  const margin =
    timing.safetyMarginMs ??
    (timing.meshSafetyMarginMs > 0
      ? timing.meshSafetyMarginMs
      : Math.max(adaptiveSafetyMargin(remaining), flushAllowance(remaining)));
  const connection = extra?.connection;
  return {
    platform: 'aws-lambda',
    trigger,
    invocationId: context.awsRequestId,
    deadline: Date.now() + remaining,
    safetyMarginMs: margin,
    raw,
    sourceIp: connection?.sourceIp,
    transport: connection?.transport,
    peerCertificate: connection?.peerCertificate,
    telemetry: new LambdaTelemetryFacts(
      timing.platform.of(context),
      trigger,
      raw as RawFacts<unknown>,
      extra,
    ) as TelemetryFacts,
  };
}

/**
 * The account id in a function ARN (`arn:aws:lambda:eu-west-1:123456789012:function:orders`).
 *
 * @example
 * ```ts
 * import { accountIdOf } from '@sidecarless/lambda';
 *
 * accountIdOf('arn:aws:lambda:eu-west-1:123456789012:function:orders'); // "123456789012"
 * ```
 */
export function accountIdOf(arn: string | undefined): string | undefined {
  if (!arn) return undefined;
  const account = arn.split(':', 5)[4];
  return account && /^\d{12}$/.test(account) ? account : undefined;
}

/**
 * The same facts with `carrier` as the span's parent, ahead of the X-Ray header (kept as the
 * fallback when the carrier's `traceparent` is malformed). Unchanged without a carrier.
 */
export function withParent<Raw>(
  facts: InvocationFacts<Raw>,
  carrier: { traceparent: string; tracestate?: string } | undefined,
): InvocationFacts<Raw> {
  if (carrier === undefined) return facts;
  const xRay = facts.telemetry?.parent?.xRay;
  return { ...facts, telemetry: { ...facts.telemetry, parent: xRay ? { ...carrier, xRay } : carrier } };
}

/** A record span's name, as the messaging conventions give it: `process <destination>`. */
function processSpanName(attributes: Readonly<Record<string, unknown>>): string {
  const destination = attributes['messaging.destination.name'];
  return typeof destination === 'string' ? `process ${destination}` : 'process';
}

/**
 * The facts of one message's run: its span linked to the context the message was sent in, with
 * the message's own attributes (`messaging.*`). Inside a batch invocation (`batch`) the span is
 * also a child of the batch's (`batch.parent`, the batch span's context; the invocation's own
 * parent when tracing is off), is named `process <destination>`, and counts as no invocation of
 * its own (`withinInvocation`).
 */
export function forMessage<Raw>(
  facts: InvocationFacts<Raw>,
  carrier: TraceCarrier | undefined,
  attributes: TelemetryFacts['attributes'],
  batch?: { readonly parent: TraceCarrier | undefined },
): InvocationFacts<Raw> {
  // The parent is a getter, which a spread drops: read it out.
  const parent = batch?.parent ?? facts.telemetry?.parent;
  return {
    ...facts,
    telemetry: {
      ...facts.telemetry,
      ...(parent ? { parent } : {}),
      ...(carrier ? { links: [carrier] } : {}),
      ...(attributes ? { attributes } : {}),
      ...(batch ? { spanName: processSpanName(attributes ?? {}) } : {}),
      ...(batch ? { withinInvocation: true } : {}),
    },
  };
}

/**
 * A message's trace context: a W3C `traceparent` message attribute (SQS `stringValue`, SNS
 * `Value`) wins over the `AWSTraceHeader` system attribute, as the telemetry stage prefers W3C.
 */
export function messageCarrier(
  attributes: Readonly<Record<string, unknown>> | undefined,
  xRay: string | undefined,
): TraceCarrier | undefined {
  const traceparent = attributeText(attributes?.traceparent);
  const tracestate = attributeText(attributes?.tracestate);
  if (!traceparent && !xRay) return undefined;
  return {
    ...(traceparent ? { traceparent } : {}),
    ...(tracestate ? { tracestate } : {}),
    ...(xRay ? { xRay } : {}),
  };
}

function attributeText(attribute: unknown): string | undefined {
  if (typeof attribute !== 'object' || attribute === null) return undefined;
  const { stringValue, Value } = attribute as { stringValue?: unknown; Value?: unknown };
  const text = stringValue ?? Value;
  return typeof text === 'string' && text !== '' ? text : undefined;
}

/** The adapter's flushes, timed: a timed-out invocation must keep that long back. */
const flushTimes = new FlushTimes();

/**
 * The margin the measured flushes ask for (see `FlushTimes` in `@sidecarless/core/adapter`): the
 * second slowest of the last 16 × 1.5 + 10 ms, at most 500 ms and at most half of what the
 * invocation has. 0 before any flush was measured.
 *
 * @example
 * ```ts
 * import { flushAllowance } from '@sidecarless/lambda';
 *
 * flushAllowance(3_000); // 0 before the first flush; e.g. 70 once flushes took ~40 ms
 * ```
 */
export function flushAllowance(remainingMs: number): number {
  return flushTimes.allowance(remainingMs);
}

/**
 * Flushes what the mesh buffered before Lambda freezes the process, never past the time left:
 * 20 ms are kept back for the runtime to post the result. Each flush is timed, for
 * {@link flushAllowance}.
 */
export function flushWithin(mesh: Mesh, context: LambdaContext): Promise<void> | undefined {
  const budget = Math.min(2_000, Math.max(0, context.getRemainingTimeInMillis() - 20));
  const started = performance.now();
  const pending = flushPending(mesh, budget);
  if (pending === undefined) return undefined; // nothing buffered: nothing worth measuring
  return pending.then(() => {
    const took = performance.now() - started;
    // Cut off by the budget, the flush needed more than it got: ask for twice as much next time,
    // so the margin catches up in a step or two instead of creeping up.
    flushTimes.record(took >= budget - 1 ? took * 2 : took);
  });
}
