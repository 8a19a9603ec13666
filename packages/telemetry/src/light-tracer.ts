/**
 * The mesh's own tracer provider on `@opentelemetry/api`: parent-based ratio sampling, random
 * W3C ids, spans batched into a span exporter (ours for OTLP/HTTP, or one the application
 * passes). It replaces `@opentelemetry/sdk-trace-node` on the default path because cold start
 * is the product: the SDK chain (sdk-trace-base, sdk-trace, core, resources and the CommonJS
 * semantic-conventions it drags in, ~190 KB bundled) measured 30–40 ms of import + setup in a
 * bundled function, where the whole Powertools stack takes 23–39 ms; with this tracer, turning
 * tracing on costs 2–5 ms, most of it `@opentelemetry/api` (bench/telemetry-cold-start.bench.ts).
 * A span costs ~1 µs against ~5 µs with the SDK's batch processor. The SDK is still loaded when
 * the application passes a span processor, which expects SDK spans.
 */
import {
  type Attributes,
  type Context,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  context as otelContext,
  propagation,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  TraceFlags,
  type Tracer,
  type TracerOptions,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { AsyncLocalContextManager } from './context-manager.js';
import { W3CPropagator } from './propagation.js';
import { type InstrumentationScope, RecordedSpan } from './recorded-span.js';
import type { SpanPipeline } from './span-pipeline.js';
import { suppressTracingKey } from './tracer-registry.js';

// Ids are written into one reused buffer and read back as hex: measured about ten times faster
// than formatting Math.random() numbers with toString(16), which takes V8's slow path for the
// uint32 values above 2^31 (the SDK's generator works the same way).
const idBuffer = Buffer.allocUnsafe(16);

function randomHex(bytes: 8 | 16): string {
  for (;;) {
    for (let offset = 0; offset < bytes; offset += 4)
      idBuffer.writeUInt32BE((Math.random() * 0x1_0000_0000) >>> 0, offset);
    // An all-zero id is invalid in W3C Trace Context; draw again (odds: 2^-64 or less).
    for (let i = 0; i < bytes; i++) if (idBuffer[i] !== 0) return idBuffer.toString('hex', 0, bytes);
  }
}

export const randomTraceId = (): string => randomHex(16);
export const randomSpanId = (): string => randomHex(8);

const two56 = 2 ** 56;

/**
 * The root sampling decision for a new trace: the trace id's rightmost 56 bits (the random part,
 * per W3C Trace Context level 2) read as a fraction, below `ratio`. Deterministic per trace id,
 * so every service with the same ratio makes the same decision.
 */
export function sampledAtRatio(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  return Number.parseInt(traceId.slice(18), 16) < ratio * two56;
}

/** A resource whose attributes are all known up front (no detectors, nothing asynchronous). */
export function staticResource(attributes: Attributes): Resource {
  const resource: Resource = {
    attributes,
    asyncAttributesPending: false,
    waitForAsyncAttributes: () => Promise.resolve(),
    getRawAttributes: () => Object.entries(attributes),
    merge: (other) => (other ? staticResource({ ...attributes, ...other.attributes }) : resource),
  };
  return resource;
}

class LightTracer implements Tracer {
  readonly #pipeline: SpanPipeline;
  readonly #resource: Resource;
  readonly #scope: InstrumentationScope;
  readonly #ratio: number;

  constructor(pipeline: SpanPipeline, resource: Resource, scope: InstrumentationScope, ratio: number) {
    this.#pipeline = pipeline;
    this.#resource = resource;
    this.#scope = scope;
    this.#ratio = ratio;
  }

  startSpan(name: string, options: SpanOptions = {}, context: Context = otelContext.active()): Span {
    // Inside `suppressTracing` (exporters, instrumented code that asked for it): no span, no ids.
    if (context.getValue(suppressTracingKey) === true) return trace.wrapSpanContext(INVALID_SPAN_CONTEXT);
    const candidate = options.root ? undefined : trace.getSpanContext(context);
    const parent = candidate !== undefined && isSpanContextValid(candidate) ? candidate : undefined;
    const traceId = parent?.traceId ?? randomTraceId();
    // Parent-based: a parent's decision (remote or local) is followed; a root is sampled by ratio.
    const sampled =
      parent !== undefined
        ? (parent.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED
        : sampledAtRatio(traceId, this.#ratio);
    const spanContext: SpanContext = {
      traceId,
      spanId: randomSpanId(),
      traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    };
    if (parent?.traceState !== undefined) spanContext.traceState = parent.traceState;
    // Unsampled: a non-recording span that still carries ids (for log correlation and propagation).
    if (!sampled) return trace.wrapSpanContext(spanContext);
    const span = new RecordedSpan(
      name,
      options.kind ?? SpanKind.INTERNAL,
      spanContext,
      parent,
      this.#pipeline,
      this.#resource,
      this.#scope,
      options.startTime,
    );
    if (options.attributes !== undefined) span.setAttributes(options.attributes);
    if (options.links !== undefined) span.addLinks(options.links);
    this.#pipeline.onStart?.(span, context);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    options: SpanOptions,
    context: Context,
    fn: F,
  ): ReturnType<F>;
  startActiveSpan<F extends (span: Span) => unknown>(
    name: string,
    a: F | SpanOptions,
    b?: F | Context,
    c?: F,
  ): ReturnType<F> {
    let options: SpanOptions = {};
    let parent: Context = otelContext.active();
    let fn: F;
    if (typeof a === 'function') fn = a;
    else if (typeof b === 'function') {
      options = a;
      fn = b;
    } else {
      options = a;
      parent = b ?? parent;
      fn = c!;
    }
    const span = this.startSpan(name, options, parent);
    return otelContext.with(
      trace.setSpan(parent, span),
      fn as (span: Span) => ReturnType<F>,
      undefined,
      span,
    );
  }
}

export interface LightTracerProviderOptions {
  readonly resource: Attributes;
  readonly ratio: number;
  /** Where ended spans go (and started ones, for a span processor's `onStart`). */
  readonly pipeline: SpanPipeline;
}

export class LightTracerProvider implements TracerProvider {
  readonly #tracers = new Map<string, Tracer>();
  readonly #resource: Resource;
  readonly #ratio: number;
  readonly #pipeline: SpanPipeline;

  constructor(options: LightTracerProviderOptions) {
    this.#resource = staticResource(options.resource);
    this.#ratio = options.ratio;
    this.#pipeline = options.pipeline;
  }

  getTracer(name: string, version?: string, options?: TracerOptions): Tracer {
    const key = `${name}@${version ?? ''}:${options?.schemaUrl ?? ''}`;
    let tracer = this.#tracers.get(key);
    if (tracer === undefined) {
      const scope: InstrumentationScope = {
        name,
        ...(version === undefined ? {} : { version }),
        ...(options?.schemaUrl === undefined ? {} : { schemaUrl: options.schemaUrl }),
      };
      tracer = new LightTracer(this.#pipeline, this.#resource, scope, this.#ratio);
      this.#tracers.set(key, tracer);
    }
    return tracer;
  }

  forceFlush(): Promise<void> {
    return this.#pipeline.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.#pipeline.shutdown();
  }

  /** Registers this provider, with the context manager and propagator (see {@link registerGlobals}). */
  register(): void {
    registerGlobals(this);
  }
}

/**
 * Registers `provider`, an async-local context manager and the W3C propagator with the api, as
 * the SDK's `NodeTracerProvider.register()` does; the api leaves each global alone when one is
 * registered already.
 */
export function registerGlobals(provider: TracerProvider): void {
  trace.setGlobalTracerProvider(provider);
  otelContext.setGlobalContextManager(new AsyncLocalContextManager());
  propagation.setGlobalPropagator(new W3CPropagator());
}
