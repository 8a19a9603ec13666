/**
 * `ctx.telemetry` without tracing: the upstream and auth counters, and CLIENT "spans" that only
 * count. Free of `@opentelemetry/api`, so a mesh with metrics but no tracing never loads it. One
 * instance serves every invocation of a mesh: it holds no per-invocation state.
 */
import type { MetricsRegistry } from './metrics.js';
import type { ClientSpan, HeaderSetter, InvocationTelemetry, OutboundAttempt } from './types.js';

/** The metric `code` of an outbound attempt that got no response. */
export function errorCode(error: unknown): string {
  const coded = error as { code?: unknown; name?: unknown } | undefined;
  if (typeof coded?.code === 'string') return coded.code;
  if (typeof coded?.name === 'string') return coded.name;
  return 'error';
}

/** An outbound attempt that is counted but not traced. */
class CountedAttempt implements ClientSpan {
  readonly #upstream: string;
  readonly #registry: MetricsRegistry | undefined;
  #ended = false;

  constructor(upstream: string, registry: MetricsRegistry | undefined) {
    this.#upstream = upstream;
    this.#registry = registry;
  }

  inject(_headers: HeaderSetter): void {
    // No trace to propagate.
  }

  end(outcome: { readonly status?: number; readonly error?: unknown }): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#registry?.upstreamRequest(
      this.#upstream,
      outcome.status !== undefined ? String(outcome.status) : errorCode(outcome.error),
    );
  }
}

/** The hooks behind `ctx.telemetry`, metrics only. */
export class UntracedTelemetry implements InvocationTelemetry {
  readonly span: InvocationTelemetry['span'] = undefined;
  protected readonly registry: MetricsRegistry | undefined;

  constructor(registry: MetricsRegistry | undefined) {
    this.registry = registry;
  }

  startClientSpan(attempt: OutboundAttempt): ClientSpan {
    return new CountedAttempt(attempt.upstream, this.registry);
  }

  upstreamRetry(upstream: string): void {
    if (this.registry) this.registry.increment(this.registry.upstreamRetries, upstream);
  }

  circuitState(upstream: string, open: boolean): void {
    this.registry?.circuitOpen.set(upstream, open ? 1 : 0);
  }

  upstreamEjection(upstream: string): void {
    if (this.registry) this.registry.increment(this.registry.upstreamEjections, upstream);
  }

  authDenied(reason: string): void {
    if (this.registry) this.registry.increment(this.registry.authDenied, reason);
  }
}
