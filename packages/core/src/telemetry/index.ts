/**
 * The telemetry feature: loaded by the feature host only when the `telemetry` options section
 * is present. It returns the outermost pipeline stage, which per invocation starts a SERVER or
 * CONSUMER span, records the invocation metrics, writes the access-log line, and — if the
 * invocation is still running shortly before its deadline — ends the span as timed out and
 * flushes, so the platform's kill does not lose it.
 */
import { writeSync } from 'node:fs';
import {
  type Attributes,
  type Context,
  INVALID_SPAN_CONTEXT,
  type Link,
  context as otelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { InvocationContext, MeshContext } from '../context.js';
import { SidecarlessError } from '../errors.js';
import type { FeatureHost } from '../features.js';
import type { NormalizedTelemetry } from '../options/telemetry.js';
import type { EventNext, HttpNext, Stage } from '../pipeline.js';
import { type AccessLogger, createAccessLogger } from './access-log.js';
import { InvocationTelemetryImpl } from './invocation-telemetry.js';
import { createEmfRenderer, type InvocationSeries, MetricsRegistry } from './metrics.js';
import { carrierSpanContext, extractParent } from './propagation.js';
import { resolveTracer, type TracerHandle } from './tracer.js';

/** Everything the stage needs, built once per mesh. */
interface TelemetryRuntime {
  readonly options: NormalizedTelemetry;
  readonly service: string;
  readonly version: string | undefined;
  readonly tracer: TracerHandle | undefined;
  readonly registry: MetricsRegistry | undefined;
  readonly emf: ((line: string) => void) | undefined;
  readonly host: FeatureHost;
  readonly accessLog: AccessLogger | undefined;
}

/** Loads the feature: tracer, metrics endpoint, flush hooks; returns the stage. */
export async function loadTelemetry(host: FeatureHost): Promise<Stage> {
  const options = host.options.telemetry!;
  const service = host.options.service;
  const resource: Record<string, string> = { 'service.name': options.tracing?.serviceName ?? service };
  if (host.options.version !== undefined) resource['service.version'] = host.options.version;
  const tracer = options.tracing ? await resolveTracer(options.tracing, resource) : undefined;
  if (tracer) {
    host.onFlush(() => tracer.flush());
    host.onClose(() => tracer.shutdown());
  }

  const registry = options.metrics.exporter === 'off' ? undefined : new MetricsRegistry(service);
  if (registry && options.metrics.exporter === 'prometheus') {
    const { startMetricsServer } = await import('./prometheus-server.js');
    const server = await startMetricsServer(registry, options.metrics.host, options.metrics.port);
    host.log.debug({ port: server.port, host: options.metrics.host }, 'metrics endpoint listening');
    host.onClose(() => server.close());
  }
  let emf: ((line: string) => void) | undefined;
  if (options.metrics.exporter === 'emf') {
    const destination = host.options.logging.destination;
    // Synchronous, like the logger: an EMF line written after the response must survive the freeze.
    emf = destination ? (line) => void destination.write(line) : (line) => void writeSync(1, line);
  }
  const accessLog = options.logging.accessLog ? createAccessLogger(host.options, host.log) : undefined;
  return createTelemetryStage({
    accessLog,
    options,
    service,
    version: host.options.version,
    tracer,
    registry,
    emf,
    host,
  });
}

/** Per-invocation state shared by the stage's success, failure and timeout paths. */
class InvocationRecord {
  readonly ctx: InvocationContext;
  readonly span: Span;
  readonly started = performance.now();
  readonly method: string | undefined;
  readonly path: string | undefined;
  timer: NodeJS.Timeout | undefined;
  done = false;

  constructor(ctx: InvocationContext, span: Span, method: string | undefined, path: string | undefined) {
    this.ctx = ctx;
    this.span = span;
    this.method = method;
    this.path = path;
  }
}

const noSpan = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

function createTelemetryStage(runtime: TelemetryRuntime): Stage {
  const { options, registry } = runtime;
  const tracer: Tracer | undefined = runtime.tracer?.tracer;
  const renderEmf = createEmfRenderer(options.metrics.namespace, runtime.service);
  // Series are cached per (platform, trigger); most functions see exactly one pair, so keep the
  // last one at hand and skip even the map lookups.
  let lastSeries: InvocationSeries | undefined;
  const seriesFor = (ctx: MeshContext): InvocationSeries | undefined => {
    if (!registry) return undefined;
    if (
      lastSeries !== undefined &&
      lastSeries.platform === ctx.platform &&
      lastSeries.trigger === ctx.trigger
    )
      return lastSeries;
    lastSeries = registry.invocationSeries(ctx.platform, ctx.trigger);
    return lastSeries;
  };

  const begin = (
    ctx: InvocationContext,
    headers: Headers | undefined,
    method: string | undefined,
    path: string | undefined,
    userAgent: string | null | undefined,
  ): [InvocationRecord, Context] => {
    const facts = ctx.telemetryFacts;
    const parent = extractParent(headers, facts?.parent);
    let span = noSpan;
    if (tracer) {
      const kind = facts?.kind === 'consumer' ? SpanKind.CONSUMER : SpanKind.SERVER;
      const name =
        facts?.spanName ??
        method ??
        `${runtime.service} ${kind === SpanKind.CONSUMER ? 'process' : 'invoke'}`;
      const attributes = spanAttributes(runtime, ctx, method, path, userAgent);
      const links = linksOf(ctx);
      span = tracer.startSpan(name, links ? { kind, attributes, links } : { kind, attributes }, parent);
    }
    const record = new InvocationRecord(ctx, span, method, path);
    ctx.telemetry = new InvocationTelemetryImpl(span, tracer, parent, registry);
    if (options.logging.traceContext) {
      const spanContext = span.spanContext();
      if (spanContext.traceId !== INVALID_SPAN_CONTEXT.traceId) {
        ctx.traceLogFields = {
          trace_id: spanContext.traceId,
          span_id: spanContext.spanId,
          trace_flags: spanContext.traceFlags & TraceFlags.SAMPLED ? '01' : '00',
        };
      }
    }
    // The watchdog: shortly before the platform's deadline, end the span as timed out and flush.
    const delay = ctx.deadline - options.timeoutMarginMs - Date.now();
    record.timer = setTimeout(onTimeout, Math.max(delay, 0), record);
    record.timer.unref();
    return [record, trace.setSpan(parent, span)];
  };

  const finish = (
    record: InvocationRecord,
    status: number | undefined,
    error: unknown,
    timedOut: boolean,
  ): void => {
    if (record.done) return;
    record.done = true;
    if (record.timer !== undefined) clearTimeout(record.timer);
    const { ctx, span } = record;
    const durationMs = performance.now() - record.started;
    const failed = timedOut || error !== undefined || (status !== undefined && status >= 500);
    if (span.isRecording()) {
      if (status !== undefined) span.setAttribute('http.response.status_code', status);
      if (failed) {
        const type = timedOut ? 'timeout' : errorType(error, status);
        span.setAttribute('error.type', type);
        if (timedOut) span.setAttribute('faas.timeout', true);
        span.setStatus({ code: SpanStatusCode.ERROR, message: type });
      }
      span.end();
    }
    seriesFor(ctx)?.record(durationMs / 1000, failed, ctx.coldStart, timedOut);
    if (runtime.emf) {
      runtime.emf(
        renderEmf({
          platform: ctx.platform,
          trigger: ctx.trigger,
          durationMs,
          failed,
          coldStart: ctx.coldStart,
          timedOut,
          invocationId: ctx.invocationId,
          traceId: ctx.traceLogFields?.trace_id,
        }),
      );
    }
    runtime.accessLog?.(ctx, {
      method: record.method,
      path: record.path,
      status,
      durationMs,
      failed,
      timedOut,
    });
  };

  function onTimeout(record: InvocationRecord): void {
    if (record.done) return;
    record.timer = undefined;
    finish(record, record.method === undefined ? undefined : 504, undefined, true);
    // Flush everything now (spans, logs), within what is left: the platform may kill us next.
    void runtime.host.log.flush();
    // Not awaited: the export is bounded by `tracing.exportTimeout`, and on Lambda the adapter's
    // `mesh.flush(remaining)` waits for it within the remaining time.
    runtime.tracer
      ?.flush()
      .catch((error: unknown) => runtime.host.log.warn({ err: error }, 'span flush failed'));
  }

  return {
    name: 'telemetry',
    http(next: HttpNext): HttpNext {
      return async function telemetryStage(request, ctx) {
        const invocation = ctx as InvocationContext;
        const headers = request.headers;
        const [record, active] = begin(
          invocation,
          headers,
          request.method,
          pathOf(request.url),
          tracer ? headers.get('user-agent') : undefined,
        );
        try {
          const response = await otelContext.with(active, next, undefined, request, ctx);
          finish(record, response.status, undefined, false);
          return response;
        } catch (error) {
          finish(record, statusOf(error), error, false);
          throw error;
        }
      };
    },
    event(next: EventNext): EventNext {
      return async function telemetryStage(event, ctx) {
        const [record, active] = begin(ctx as InvocationContext, undefined, undefined, undefined, undefined);
        try {
          const result = await otelContext.with(active, next, undefined, event, ctx);
          finish(record, undefined, undefined, false);
          return result;
        } catch (error) {
          finish(record, undefined, error, false);
          throw error;
        }
      };
    },
  };
}

function spanAttributes(
  runtime: TelemetryRuntime,
  ctx: InvocationContext,
  method: string | undefined,
  path: string | undefined,
  userAgent: string | null | undefined,
): Attributes {
  const facts = ctx.telemetryFacts;
  const attributes: Attributes = {
    'faas.trigger': ctx.trigger,
    'faas.invocation_id': ctx.invocationId,
    'faas.coldstart': ctx.coldStart,
    'faas.name': facts?.faas?.name ?? runtime.service,
    'sidecarless.platform': ctx.platform,
  };
  const version = facts?.faas?.version ?? runtime.version;
  if (version !== undefined) attributes['faas.version'] = version;
  if (facts?.faas?.maxMemoryMb !== undefined)
    attributes['faas.max_memory'] = facts.faas.maxMemoryMb * 1024 * 1024;
  if (facts?.faas?.instance !== undefined) attributes['faas.instance'] = facts.faas.instance;
  if (facts?.cloud?.provider !== undefined) attributes['cloud.provider'] = facts.cloud.provider;
  if (facts?.cloud?.region !== undefined) attributes['cloud.region'] = facts.cloud.region;
  if (facts?.cloud?.accountId !== undefined) attributes['cloud.account.id'] = facts.cloud.accountId;
  if (method !== undefined) {
    attributes['http.request.method'] = method;
    // The path only: query strings carry tokens and personal data too often to export.
    if (path !== undefined) attributes['url.path'] = path;
    if (userAgent) attributes['user_agent.original'] = userAgent;
  }
  return attributes;
}

function linksOf(ctx: InvocationContext): Link[] | undefined {
  const carriers = ctx.telemetryFacts?.links;
  if (!carriers || carriers.length === 0) return undefined;
  const links: Link[] = [];
  for (const carrier of carriers) {
    const context = carrierSpanContext(carrier);
    if (context) links.push({ context });
  }
  return links;
}

/** The path of an absolute URL, without parsing it into a `URL` (about 1 µs saved per call). */
export function pathOf(url: string): string {
  const authority = url.indexOf('//');
  const start = url.indexOf('/', authority < 0 ? 0 : authority + 2);
  if (start < 0) return '/';
  let end = url.length;
  const query = url.indexOf('?', start);
  if (query >= 0) end = query;
  const hash = url.indexOf('#', start);
  if (hash >= 0 && hash < end) end = hash;
  return url.slice(start, end);
}

function statusOf(error: unknown): number {
  return error instanceof SidecarlessError ? error.status : 500;
}

function errorType(error: unknown, status: number | undefined): string {
  if (error instanceof SidecarlessError) return error.code;
  if (error instanceof Error) return error.name;
  if (error !== undefined) return 'Error';
  return String(status ?? 500);
}
