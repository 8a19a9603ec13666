/**
 * The span side of the telemetry stage, imported only when `telemetry.tracing` is configured —
 * the only part of the stage that loads `@opentelemetry/api` (and, through `tracer.ts`, the
 * light tracer when an exporter is configured).
 */

import {
  type Attributes,
  type Context,
  createContextKey,
  isSpanContextValid,
  type Link,
  context as otelContext,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { FeatureHost } from '@sidecarless/core';
import { type FeatureContext, FlushTimes } from '@sidecarless/core/feature';
import { InvocationTelemetryImpl } from './invocation-telemetry.js';
import type { MetricsRegistry } from './metrics.js';
import type { NormalizedTracing } from './options.js';
import { carrierSpanContext, extractParent } from './propagation.js';
import { resolveTracer } from './tracer.js';

/** Marks the context a mesh runs an invocation in (a `Symbol.for` key: shared by every copy). */
const invocationKey = createContextKey('sidecarless.invocation');

/** One invocation's span and the context the rest of the pipeline runs in. */
export class InvocationSpan {
  readonly span: Span;
  readonly active: Context;

  constructor(span: Span, active: Context) {
    this.span = span;
    this.active = active;
  }

  /** Runs `next(input, ctx)` with this span active (so `trace.getActiveSpan()` finds it). */
  run<I, R>(next: (input: I, ctx: FeatureContext) => R, input: I, ctx: FeatureContext): R {
    return otelContext.with(this.active, next, undefined, input, ctx);
  }

  /** Ends the span with the outcome; `errorType` is set for failures. */
  end(status: number | undefined, errorType: string | undefined, timedOut: boolean): void {
    const span = this.span;
    if (!span.isRecording()) return;
    if (status !== undefined) span.setAttribute('http.response.status_code', status);
    if (errorType !== undefined) {
      span.setAttribute('error.type', errorType);
      if (timedOut) span.setAttribute('faas.timeout', true);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
    }
    span.end();
  }
}

/** What the stage needs from tracing. */
export interface SpanSupport {
  /** Starts the invocation span; sets `ctx.telemetry` and, if asked, `ctx.traceLogFields`. */
  start(
    ctx: FeatureContext,
    headers: Headers | undefined,
    method: string | undefined,
    path: string | undefined,
    /** `http` or `https` (`url.scheme`), for HTTP invocations. */
    scheme: string | undefined,
  ): InvocationSpan;
  /** Flushes the span processor (or the application's provider). */
  flush(): Promise<void>;
  /** How long before a deadline `remainingMs` away the timeout watchdog should act (flush-times.ts). */
  flushAllowanceMs(remainingMs: number): number;
}

interface SpanSupportOptions {
  readonly tracing: NormalizedTracing;
  readonly service: string;
  readonly version: string | undefined;
  readonly traceContextInLogs: boolean;
  readonly registry: MetricsRegistry | undefined;
  /** EMF is on: each invocation tallies its outbound and auth counts for its own EMF lines. */
  readonly tallied: boolean;
}

/** Resolves the tracer (loading the SDK only if it is ours to set up) and registers its hooks. */
export async function createSpanSupport(
  host: FeatureHost,
  options: SpanSupportOptions,
): Promise<SpanSupport> {
  // The platform's and OTEL_RESOURCE_ATTRIBUTES's attributes; service.name and service.version
  // are the mesh's (OTEL_SERVICE_NAME wins over a service.name in the attributes, as the spec says).
  // telemetry.sdk.*: the conventions ask an SDK other than OpenTelemetry's own to name itself
  // (the OpenTelemetry SDK stamps its own name on an application's provider).
  const resource: Record<string, string> = {
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.name': '@sidecarless/telemetry',
    ...options.tracing.resource,
    'service.name': options.tracing.serviceName,
  };
  if (options.version !== undefined) resource['service.version'] = options.version;
  // Called once per run of failed exports: a collector that is down must not flood the logs.
  const handle = await resolveTracer(options.tracing, resource, (reason) =>
    host.log.warn({ err: reason }, 'span export failed'),
  );
  if (
    handle.source === 'application' &&
    (options.tracing.exporter !== undefined || options.tracing.spanProcessor !== undefined)
  ) {
    host.log.warn(
      'the application registered its own tracer provider: the mesh\'s spans go to it, and telemetry.tracing.exporter/spanProcessor are not used; set telemetry.tracing.provider: "light" to export through the mesh instead',
    );
  }
  const flushTimes = new FlushTimes();
  const timedFlush = (): Promise<void> => {
    const started = performance.now();
    return handle.flush().then(() => flushTimes.record(performance.now() - started));
  };
  host.onFlush(timedFlush);
  host.onClose(() => handle.shutdown());
  const tracer: Tracer = handle.tracer;
  const { registry, service, version, traceContextInLogs, tallied } = options;

  return {
    flush: timedFlush,
    flushAllowanceMs: (remainingMs) => flushTimes.allowance(remainingMs),
    start(ctx, headers, method, path, scheme) {
      const facts = ctx.telemetryFacts;
      // An instrumentation of the application (instrumentation-http on the Node server,
      // instrumentation-aws-lambda) already made the SERVER span and runs the mesh inside it:
      // the mesh's span is its child — INTERNAL for HTTP and direct invocations (one SERVER span
      // per hop) — instead of a second root or a sibling under the same remote parent.
      // Not when the active span is another mesh's invocation (a mesh invoked in-process, as in
      // tests): the request's headers say who its parent is.
      const active = otelContext.active();
      const outer = trace.getSpanContext(active);
      const nested =
        outer !== undefined &&
        outer.isRemote !== true &&
        active.getValue(invocationKey) === undefined &&
        isSpanContextValid(outer);
      const parent = nested ? active : extractParent(headers, facts?.parent);
      // A message's processing stays CONSUMER under the instrumentation's span (messaging
      // conventions); only a second SERVER span for the same hop becomes INTERNAL.
      const kind =
        facts?.kind === 'consumer' ? SpanKind.CONSUMER : nested ? SpanKind.INTERNAL : SpanKind.SERVER;
      const known = method === undefined || knownMethods.has(method);
      const name = facts?.spanName ?? spanNameOf(method, known, facts?.route, facts?.faas?.name ?? service);
      const attributes = spanAttributes(service, version, ctx, method, known, path, scheme, headers);
      const links = linksOf(ctx);
      const span = tracer.startSpan(name, links ? { kind, attributes, links } : { kind, attributes }, parent);
      ctx.telemetry = new InvocationTelemetryImpl(span, tracer, parent, registry, tallied);
      const spanContext = span.spanContext();
      // A no-op tracer (nothing registered yet) hands back an invalid context: no ids to log.
      if (traceContextInLogs && isSpanContextValid(spanContext)) {
        ctx.traceLogFields = {
          trace_id: spanContext.traceId,
          span_id: spanContext.spanId,
          trace_flags: spanContext.traceFlags & TraceFlags.SAMPLED ? '01' : '00',
        };
      }
      return new InvocationSpan(span, trace.setSpan(parent, span).setValue(invocationKey, true));
    },
  };
}

/**
 * The methods the HTTP semantic conventions know (RFC 9110 and RFC 5789's PATCH). Any other
 * method is recorded as `_OTHER` with the original in `http.request.method_original`, so a
 * client inventing methods cannot grow the attribute's cardinality without bound.
 */
const knownMethods = new Set([
  'CONNECT',
  'DELETE',
  'GET',
  'HEAD',
  'OPTIONS',
  'PATCH',
  'POST',
  'PUT',
  'TRACE',
]);

/**
 * The span name the conventions give: HTTP server spans `{method} {http.route}`, or `{method}`
 * alone when no route is known (never the raw path: unbounded cardinality), with `HTTP` for an
 * unknown method; FaaS invocations that are not HTTP, the function's name.
 */
function spanNameOf(
  method: string | undefined,
  known: boolean,
  route: string | undefined,
  functionName: string,
): string {
  if (method === undefined) return functionName;
  const shown = known ? method : 'HTTP';
  return route ? `${shown} ${route}` : shown;
}

function spanAttributes(
  service: string,
  version: string | undefined,
  ctx: FeatureContext,
  method: string | undefined,
  knownMethod: boolean,
  path: string | undefined,
  scheme: string | undefined,
  headers: Headers | undefined,
): Attributes {
  const facts = ctx.telemetryFacts;
  const attributes: Attributes = {
    'faas.trigger': ctx.trigger,
    'faas.invocation_id': ctx.invocationId,
    'faas.coldstart': ctx.coldStart,
    'faas.name': facts?.faas?.name ?? service,
    'sidecarless.platform': ctx.platform,
  };
  const faasVersion = facts?.faas?.version ?? version;
  if (faasVersion !== undefined) attributes['faas.version'] = faasVersion;
  if (facts?.faas?.maxMemoryMb !== undefined)
    attributes['faas.max_memory'] = facts.faas.maxMemoryMb * 1024 * 1024;
  if (facts?.faas?.instance !== undefined) attributes['faas.instance'] = facts.faas.instance;
  if (facts?.cloud?.provider !== undefined) attributes['cloud.provider'] = facts.cloud.provider;
  if (facts?.cloud?.region !== undefined) attributes['cloud.region'] = facts.cloud.region;
  if (facts?.cloud?.accountId !== undefined) attributes['cloud.account.id'] = facts.cloud.accountId;
  if (facts?.attributes) Object.assign(attributes, facts.attributes);
  if (method !== undefined) {
    attributes['http.request.method'] = knownMethod ? method : '_OTHER';
    if (!knownMethod) attributes['http.request.method_original'] = method;
    // Required on HTTP server spans.
    if (scheme !== undefined) attributes['url.scheme'] = scheme;
    if (facts?.route) attributes['http.route'] = facts.route;
    // The path only: query strings carry tokens and personal data too often to export.
    if (path !== undefined) attributes['url.path'] = path;
    const userAgent = headers?.get('user-agent');
    if (userAgent) attributes['user_agent.original'] = userAgent;
  }
  return attributes;
}

function linksOf(ctx: FeatureContext): Link[] | undefined {
  const carriers = ctx.telemetryFacts?.links;
  if (!carriers || carriers.length === 0) return undefined;
  const links: Link[] = [];
  for (const carrier of carriers) {
    const context = carrierSpanContext(carrier);
    if (context) links.push({ context });
  }
  return links.length > 0 ? links : undefined;
}
