/**
 * The telemetry feature: loaded by the feature host only when the `telemetry` options section
 * is present. It returns the outermost pipeline stage, which per invocation starts a SERVER or
 * CONSUMER span (when tracing is configured), records the invocation metrics, writes the
 * access-log line, and — if the invocation is still running shortly before its deadline — ends
 * the span as timed out and flushes, so the platform's kill does not lose it.
 *
 * This module does not import `@opentelemetry/api`. The span side lives in `tracing.ts`, imported
 * only when tracing is on; the application's MeterProvider in `app-metrics-setup.ts`, imported
 * (with the API) only when metrics are on and `telemetry.metrics.application` is not `false` — a
 * mesh with logs alone, or with `application: false`, never loads the API without tracing.
 */
import {
  type EventNext,
  type FeatureHost,
  type HttpNext,
  SidecarlessError,
  type Stage,
} from '@sidecarless/core';
import { type FeatureContext, invocationOf, lineWriter } from '@sidecarless/core/feature';
import { type AccessLogger, createAccessLogger } from './access-log.js';
import type { ApplicationMetrics } from './app-metrics.js';
import type { ApplicationEmf, takeApplicationEmf } from './app-metrics-exposition.js';
import {
  createEmfReloadRenderer,
  createEmfRenderer,
  createEmfTallyRenderer,
  emfInvocationProperties,
  type InvocationSeries,
  MetricsRegistry,
} from './metrics.js';
import type { NormalizedTelemetry } from './options.js';
import type { InvocationSpan, SpanSupport } from './tracing.js';
import { UntracedTelemetry } from './untraced-telemetry.js';

/** Everything the stage needs, built once per mesh. */
interface TelemetryRuntime {
  readonly options: NormalizedTelemetry;
  readonly service: string;
  readonly spans: SpanSupport | undefined;
  readonly registry: MetricsRegistry | undefined;
  readonly emf: ((line: string) => void) | undefined;
  readonly accessLog: AccessLogger | undefined;
  readonly host: FeatureHost;
  /** The application's instruments, when the mesh's MeterProvider is the registered one. */
  readonly application: ApplicationRuntime | undefined;
}

interface ApplicationRuntime {
  readonly metrics: ApplicationMetrics;
  readonly takeEmf: typeof takeApplicationEmf;
}

/**
 * Registers the mesh's MeterProvider for the application's instruments (after importing
 * `@opentelemetry/api`, which only this path loads when tracing is off).
 */
async function startApplicationMetrics(
  host: FeatureHost<NormalizedTelemetry>,
  registry: MetricsRegistry,
  setup: Promise<typeof import('./app-metrics-setup.js')>,
): Promise<ApplicationRuntime | undefined> {
  const options = host.section!.metrics;
  let loaded: typeof import('./app-metrics-setup.js');
  try {
    loaded = await setup;
  } catch (error) {
    // `@opentelemetry/api` not installed: then nothing in the application records through it.
    const code = (error as { code?: unknown }).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') throw error;
    host.log.debug({}, '@opentelemetry/api is not installed: no MeterProvider for application metrics');
    return undefined;
  }
  const { registerApplicationMetrics, renderApplicationPrometheus, takeApplicationEmf } = loaded;
  const handle = registerApplicationMetrics({
    cardinalityLimit: options.cardinalityLimit,
    perInvocation: options.exporter === 'emf',
    warn: (fields, message) => host.log.warn(fields, message),
  });
  if (handle === undefined) {
    host.log.info(
      {},
      "an OpenTelemetry MeterProvider is already registered: the application's instruments go to it, not to the mesh's metrics",
    );
    return undefined;
  }
  host.onClose(() => handle.unregister());
  const application = handle.metrics;
  registry.application = {
    renderPrometheus: (fn, meshFamilies) => renderApplicationPrometheus(application, fn, meshFamilies),
  };
  return { metrics: application, takeEmf: takeApplicationEmf };
}

/** Loads the feature: tracer, metrics endpoint, flush hooks; returns the stage. */
export async function loadTelemetry(host: FeatureHost<NormalizedTelemetry>): Promise<Stage> {
  const options = host.section!;
  const service = host.service;
  const registry = options.metrics.exporter === 'off' ? undefined : new MetricsRegistry(service);
  // Started first, at createMesh: the API's import overlaps the tracer's, and the provider is
  // registered before `mesh.ready()` resolves.
  const application =
    registry && options.metrics.application
      ? startApplicationMetrics(host, registry, import('./app-metrics-setup.js'))
      : undefined;
  // Awaited below, after the tracer's import: handled now, so a failure is not reported unhandled.
  application?.catch(() => {});

  let spans: SpanSupport | undefined;
  if (options.tracing) {
    const { createSpanSupport } = await import('./tracing.js');
    spans = await createSpanSupport(host, {
      tracing: options.tracing,
      service,
      version: host.version,
      traceContextInLogs: options.logging.traceContext,
      registry,
      tallied: options.metrics.exporter === 'emf',
    });
  }

  if (registry && options.metrics.exporter === 'prometheus') {
    const { startMetricsServer } = await import('./prometheus-server.js');
    const server = await startMetricsServer(registry, options.metrics.host, options.metrics.port);
    host.log.debug({ port: server.port, host: options.metrics.host }, 'metrics endpoint listening');
    host.onClose(() => server.close());
  }
  let emf: ((line: string) => void) | undefined;
  if (options.metrics.exporter === 'emf') {
    // Synchronous, like the logger: an EMF line written after the response must survive the freeze.
    emf = lineWriter(host.logging.destination);
  }
  const accessLog = options.logging.accessLog ? createAccessLogger(host, host.log) : undefined;
  countReloads(host, options, registry, emf);
  return createTelemetryStage({
    options,
    service,
    spans,
    registry,
    emf,
    accessLog,
    host,
    application: await application,
  });
}

/** Counts `serverless_config_reloads_total{outcome}` for each reconfiguration of the running mesh. */
function countReloads(
  host: FeatureHost,
  options: NormalizedTelemetry,
  registry: MetricsRegistry | undefined,
  emf: ((line: string) => void) | undefined,
): void {
  if (!registry) return;
  const renderReload = emf ? createEmfReloadRenderer(options.metrics.namespace, host.service) : undefined;
  host.onReconfigure(({ outcome }) => {
    if (outcome === 'unchanged') return;
    registry.configReloads.add([outcome]);
    if (emf && renderReload) emf(renderReload(outcome));
  });
}

/** Per-invocation state shared by the stage's success, failure and timeout paths. */
class InvocationRecord {
  readonly ctx: FeatureContext;
  readonly span: InvocationSpan | undefined;
  readonly started = performance.now();
  readonly method: string | undefined;
  readonly path: string | undefined;
  timer: NodeJS.Timeout | undefined;
  done = false;

  constructor(
    ctx: FeatureContext,
    span: InvocationSpan | undefined,
    method: string | undefined,
    path: string | undefined,
  ) {
    this.ctx = ctx;
    this.span = span;
    this.method = method;
    this.path = path;
  }
}

function createTelemetryStage(runtime: TelemetryRuntime): Stage {
  const { options, registry, spans } = runtime;
  const renderEmf = createEmfRenderer(options.metrics.namespace, runtime.service);
  const renderEmfTally = createEmfTallyRenderer(options.metrics.namespace, runtime.service);
  // Without tracing, one hooks object serves every invocation (it holds no invocation state) —
  // unless EMF reports each invocation's outbound and auth counts: then each gets its own.
  const untraced = new UntracedTelemetry(registry);
  const tallied = runtime.emf !== undefined;
  const { application } = runtime;
  const namespace = options.metrics.namespace;
  /** What the application recorded during this invocation, for its EMF line (nothing: no work). */
  const applicationEmf = (
    app: ApplicationRuntime,
    ctx: FeatureContext,
    traceId: string | undefined,
  ): ApplicationEmf | undefined => {
    if (app.metrics.touched.length === 0 && !app.metrics.observing) return undefined;
    // The invocation line's own properties: an application series whose attributes disagree
    // with them goes to a line of its own.
    const reserved = new Map<string, string>();
    // A metric's value: no JSON text equals it, so no dimension of the same name fits beside it.
    const reservedProperty = '\u0000';
    for (const name of emfInvocationProperties) reserved.set(name, reservedProperty);
    reserved.set('function', JSON.stringify(runtime.service));
    reserved.set('platform', JSON.stringify(ctx.platform));
    reserved.set('trigger', JSON.stringify(ctx.trigger));
    reserved.set('invocation_id', JSON.stringify(ctx.invocationId));
    if (traceId !== undefined) reserved.set('trace_id', JSON.stringify(traceId));
    return app.takeEmf(app.metrics, namespace, reserved, ctx.invocationId);
  };
  // Series are cached per (platform, trigger); most functions see exactly one pair, so keep the
  // last one at hand and skip even the map lookups.
  let lastSeries: InvocationSeries | undefined;
  const seriesFor = (ctx: FeatureContext): InvocationSeries | undefined => {
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
    ctx: FeatureContext,
    headers: Headers | undefined,
    method: string | undefined,
    path: string | undefined,
    scheme: string | undefined,
  ): InvocationRecord => {
    let span: InvocationSpan | undefined;
    if (spans) span = spans.start(ctx, headers, method, path, scheme);
    else ctx.telemetry = tallied ? new UntracedTelemetry(registry, true) : untraced;
    const record = new InvocationRecord(ctx, span, method, path);
    // Answered by the mesh while the handler runs on (a drain cut it): the span and access line
    // are written now, so the flush that follows exports them.
    ctx.onAbandon = (error) =>
      finish(record, method === undefined ? undefined : statusOf(error), error, false);
    // The watchdog: shortly before the platform's deadline, end the span as timed out and flush.
    const now = Date.now();
    // The measured flush time when it is longer (flush-times.ts).
    const margin = Math.max(options.timeoutMarginMs, spans?.flushAllowanceMs(ctx.deadline - now) ?? 0);
    const delay = ctx.deadline - margin - now;
    // A record inside a batch has no watchdog of its own: the batch's ends and flushes them all.
    if (ctx.telemetryFacts?.withinInvocation === true) return record;
    record.timer = setTimeout(onTimeout, Math.max(delay, 0), record);
    record.timer.unref();
    return record;
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
    const { ctx } = record;
    const durationMs = performance.now() - record.started;
    // On HTTP a refusal the mesh answers with a 4xx (a bad token, a denied policy, a malformed
    // request) is the caller's mistake, not the function's: counted, but not as an error.
    const refused = status !== undefined && status < 500 && error instanceof SidecarlessError;
    const failed = timedOut || (error !== undefined && !refused) || (status !== undefined && status >= 500);
    record.span?.end(
      status,
      failed ? (timedOut ? 'timeout' : errorType(error, status)) : undefined,
      timedOut,
    );
    // A record inside a batch is not an invocation: the batch counts once, and writes the line.
    if (ctx.telemetryFacts?.withinInvocation === true) return;
    seriesFor(ctx)?.record(durationMs / 1000, failed, ctx.coldStart, timedOut);
    if (runtime.emf) {
      const tally = (ctx.telemetry as UntracedTelemetry | undefined)?.tally;
      const traceId = ctx.traceLogFields?.trace_id;
      const own = application === undefined ? undefined : applicationEmf(application, ctx, traceId);
      runtime.emf(
        (tally === undefined ? '' : renderEmfTally(tally, ctx.invocationId)) +
          renderEmf(
            {
              platform: ctx.platform,
              trigger: ctx.trigger,
              durationMs,
              failed,
              coldStart: ctx.coldStart,
              timedOut,
              invocationId: ctx.invocationId,
              traceId,
            },
            own,
          ) +
          (own?.lines ?? ''),
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
    spans?.flush().catch((error: unknown) => runtime.host.log.warn({ err: error }, 'span flush failed'));
  }

  return {
    name: 'telemetry',
    http(next: HttpNext): HttpNext {
      return async function telemetryStage(request, ctx) {
        const invocation = invocationOf(ctx);
        const url = request.url;
        const scheme = url.startsWith('https:') ? 'https' : 'http';
        const record = begin(invocation, request.headers, request.method, pathOf(url), scheme);
        try {
          const response = await (record.span
            ? record.span.run(next, request, invocation)
            : next(request, ctx));
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
        const invocation = invocationOf(ctx);
        const record = begin(invocation, undefined, undefined, undefined, undefined);
        try {
          const result = await (record.span ? record.span.run(next, event, invocation) : next(event, ctx));
          finish(record, undefined, undefined, false);
          return result;
        } catch (error) {
          finish(record, undefined, error, false);
          throw error;
        }
      };
    },
    // The whole batch: its invocation span and metrics, around the records' own runs.
    batch(next: EventNext): EventNext {
      return this.event!(next);
    },
  };
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
