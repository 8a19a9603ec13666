/**
 * `ctx.telemetry`: the hooks the outbound client and the auth stage call during an invocation
 * — CLIENT spans with context injection, and the upstream and auth counters.
 */
import {
  type Context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { MetricsRegistry } from './metrics.js';
import { injectInto } from './propagation.js';
import type { ClientSpan, InvocationTelemetry, OutboundAttempt } from './types.js';

/** A CLIENT span for one outbound attempt. */
class ClientSpanImpl implements ClientSpan {
  readonly #span: Span;
  readonly #upstream: string;
  readonly #parent: Context;
  readonly #registry: MetricsRegistry | undefined;
  #ended = false;

  constructor(span: Span, upstream: string, parent: Context, registry: MetricsRegistry | undefined) {
    this.#span = span;
    this.#upstream = upstream;
    this.#parent = parent;
    this.#registry = registry;
  }

  inject(headers: Headers): void {
    injectInto(headers, this.#span.spanContext(), propagation.getBaggage(this.#parent));
  }

  end(outcome: { readonly status?: number; readonly error?: unknown }): void {
    if (this.#ended) return;
    this.#ended = true;
    const code = outcome.status !== undefined ? String(outcome.status) : errorCode(outcome.error);
    this.#registry?.upstreamRequest(this.#upstream, code);
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

function errorCode(error: unknown): string {
  const coded = error as { code?: unknown; name?: unknown } | undefined;
  if (typeof coded?.code === 'string') return coded.code;
  if (typeof coded?.name === 'string') return coded.name;
  return 'error';
}

/** The implementation behind `ctx.telemetry`. */
export class InvocationTelemetryImpl implements InvocationTelemetry {
  readonly span: Span;
  readonly #tracer: Tracer | undefined;
  readonly #parent: Context;
  readonly #registry: MetricsRegistry | undefined;

  constructor(
    span: Span,
    tracer: Tracer | undefined,
    parent: Context,
    registry: MetricsRegistry | undefined,
  ) {
    this.span = span;
    this.#tracer = tracer;
    this.#parent = parent;
    this.#registry = registry;
  }

  startClientSpan(attempt: OutboundAttempt): ClientSpan {
    const context = trace.setSpan(this.#parent, this.span);
    const span =
      this.#tracer?.startSpan(
        attempt.method,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'http.request.method': attempt.method,
            'server.address': attempt.url.hostname,
            'server.port': Number(attempt.url.port) || (attempt.url.protocol === 'https:' ? 443 : 80),
            'url.full': `${attempt.url.origin}${attempt.url.pathname}`,
            'http.request.resend_count': attempt.attempt,
            'sidecarless.upstream': attempt.upstream,
          },
        },
        context,
      ) ??
      // No tracer: a non-recording stand-in that still propagates the invocation's context.
      trace.wrapSpanContext(this.span.spanContext());
    return new ClientSpanImpl(span, attempt.upstream, this.#parent, this.#registry);
  }

  upstreamRetry(upstream: string): void {
    if (this.#registry) this.#registry.increment(this.#registry.upstreamRetries, upstream);
  }

  circuitState(upstream: string, open: boolean): void {
    this.#registry?.circuitOpen.set(upstream, open ? 1 : 0);
  }

  upstreamEjection(upstream: string): void {
    if (this.#registry) this.#registry.increment(this.#registry.upstreamEjections, upstream);
  }

  authDenied(reason: string): void {
    if (this.#registry) this.#registry.increment(this.#registry.authDenied, reason);
  }
}
