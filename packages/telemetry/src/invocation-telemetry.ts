/**
 * `ctx.telemetry` with tracing: CLIENT spans with context injection on top of the counters.
 */

import {
  type Attributes,
  type Context,
  context as otelContext,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { ClientSpan, HeaderSetter, OutboundAttempt } from '@sidecarless/core';
import type { MetricsRegistry } from './metrics.js';
import { injectInto } from './propagation.js';
import { errorCode, UntracedTelemetry } from './untraced-telemetry.js';

/** A CLIENT span for one outbound attempt. */
class ClientSpanImpl implements ClientSpan {
  readonly #span: Span;
  readonly #attempt: OutboundAttempt;
  readonly #parent: Context;
  readonly #telemetry: UntracedTelemetry;
  #ended = false;

  constructor(span: Span, attempt: OutboundAttempt, parent: Context, telemetry: UntracedTelemetry) {
    this.#span = span;
    this.#attempt = attempt;
    this.#parent = parent;
    this.#telemetry = telemetry;
  }

  inject(headers: HeaderSetter): void {
    injectInto(headers, this.#span.spanContext(), propagation.getBaggage(this.#parent));
  }

  end(outcome: { readonly status?: number; readonly error?: unknown }): void {
    if (this.#ended) return;
    this.#ended = true;
    const code = outcome.status !== undefined ? String(outcome.status) : errorCode(outcome.error);
    this.#telemetry.upstreamRequest(this.#attempt, code);
    const span = this.#span;
    if (!span.isRecording()) return;
    if (outcome.status !== undefined) span.setAttribute('http.response.status_code', outcome.status);
    if (outcome.error !== undefined || (outcome.status !== undefined && outcome.status >= 500)) {
      span.setAttribute('error.type', code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    }
    span.end();
  }
}

/** The implementation behind `ctx.telemetry` when tracing is on. */
export class InvocationTelemetryImpl extends UntracedTelemetry {
  override readonly span: Span;
  readonly #tracer: Tracer;
  readonly #parent: Context;

  constructor(
    span: Span,
    tracer: Tracer,
    parent: Context,
    registry: MetricsRegistry | undefined,
    tallied: boolean,
  ) {
    super(registry, tallied);
    this.span = span;
    this.#tracer = tracer;
    this.#parent = parent;
  }

  override startClientSpan(attempt: OutboundAttempt): ClientSpan {
    const attributes: Attributes = {
      'http.request.method': attempt.method,
      'server.address': attempt.url.hostname,
      'server.port': Number(attempt.url.port) || (attempt.url.protocol === 'https:' ? 443 : 80),
      'url.full': `${attempt.url.origin}${attempt.url.pathname}`,
      'http.request.resend_count': attempt.attempt,
      'sidecarless.upstream': attempt.upstream,
    };
    if (attempt.route !== undefined) attributes['sidecarless.route'] = attempt.route;
    if (attempt.subset !== undefined) attributes['sidecarless.subset'] = attempt.subset;
    if (attempt.fault !== undefined) attributes['sidecarless.fault'] = attempt.fault;
    if (attempt.mirror === true) attributes['sidecarless.mirror'] = true;
    // The child of the span active where the call is made — the application's own span around
    // it, as an instrumentation's CLIENT span would be — when that span is of this invocation's
    // trace; else of the invocation's span.
    const active = otelContext.active();
    const activeSpan = trace.getSpan(active);
    const parent =
      activeSpan !== undefined &&
      activeSpan.spanContext().traceId === this.span.spanContext().traceId &&
      activeSpan.isRecording()
        ? active
        : trace.setSpan(this.#parent, this.span);
    const span = this.#tracer.startSpan(attempt.method, { kind: SpanKind.CLIENT, attributes }, parent);
    return new ClientSpanImpl(span, attempt, this.#parent, this);
  }
}
