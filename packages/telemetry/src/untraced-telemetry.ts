/**
 * `ctx.telemetry` without tracing: the upstream and auth counters, and CLIENT "spans" that only
 * count. Free of `@opentelemetry/api`, so a mesh with metrics but no tracing never loads it.
 * Without EMF one instance serves every invocation of a mesh (it holds no invocation state);
 * with EMF each invocation gets its own, which tallies what the invocation's EMF lines report.
 */
import type { ClientSpan, HeaderSetter, InvocationTelemetry, OutboundAttempt } from '@sidecarless/core';
import type { MetricsRegistry } from './metrics.js';

/** The metric `code` of an outbound attempt that got no response. */
export function errorCode(error: unknown): string {
  const coded = error as { code?: unknown; name?: unknown } | undefined;
  if (typeof coded?.code === 'string') return coded.code;
  if (typeof coded?.name === 'string') return coded.name;
  return 'error';
}

/**
 * The outbound and auth counts of one invocation, for its EMF lines (CloudWatch sums the lines;
 * the process-wide totals stay in the registry for Prometheus).
 */
export class InvocationTally {
  /** `upstream` → `code` → attempts. */
  readonly upstreamRequests = new Map<string, Map<string, number>>();
  readonly upstreamRetries = new Map<string, number>();
  readonly authDenied = new Map<string, number>();
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** An outbound attempt that is counted but not traced. */
class CountedAttempt implements ClientSpan {
  readonly #upstream: string;
  readonly #telemetry: UntracedTelemetry;
  #ended = false;

  constructor(upstream: string, telemetry: UntracedTelemetry) {
    this.#upstream = upstream;
    this.#telemetry = telemetry;
  }

  inject(_headers: HeaderSetter): void {
    // No trace to propagate.
  }

  end(outcome: { readonly status?: number; readonly error?: unknown }): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#telemetry.upstreamRequest(
      this.#upstream,
      outcome.status !== undefined ? String(outcome.status) : errorCode(outcome.error),
    );
  }
}

/** The hooks behind `ctx.telemetry`, metrics only. */
export class UntracedTelemetry implements InvocationTelemetry {
  readonly span: InvocationTelemetry['span'] = undefined;
  protected readonly registry: MetricsRegistry | undefined;
  /** Created at the first count when `tallied` (EMF): most invocations never need one. */
  tally: InvocationTally | undefined = undefined;
  readonly #tallied: boolean;

  constructor(registry: MetricsRegistry | undefined, tallied = false) {
    this.registry = registry;
    this.#tallied = tallied && registry !== undefined;
  }

  #tallyFor(): InvocationTally | undefined {
    if (!this.#tallied) return undefined;
    this.tally ??= new InvocationTally();
    return this.tally;
  }

  startClientSpan(attempt: OutboundAttempt): ClientSpan {
    return new CountedAttempt(attempt.upstream, this);
  }

  /** Counts `serverless_upstream_requests_total{upstream, code}` (the client spans call it). */
  upstreamRequest(upstream: string, code: string): void {
    if (!this.registry) return;
    this.registry.upstreamRequest(upstream, code);
    const tally = this.#tallyFor();
    if (tally) {
      let byCode = tally.upstreamRequests.get(upstream);
      if (byCode === undefined) {
        byCode = new Map();
        tally.upstreamRequests.set(upstream, byCode);
      }
      increment(byCode, code);
    }
  }

  upstreamRetry(upstream: string): void {
    if (!this.registry) return;
    this.registry.increment(this.registry.upstreamRetries, upstream);
    const tally = this.#tallyFor();
    if (tally) increment(tally.upstreamRetries, upstream);
  }

  circuitState(upstream: string, open: boolean): void {
    this.registry?.circuitOpen.set(upstream, open ? 1 : 0);
  }

  upstreamEjection(upstream: string): void {
    if (this.registry) this.registry.increment(this.registry.upstreamEjections, upstream);
  }

  authDenied(reason: string): void {
    if (!this.registry) return;
    this.registry.increment(this.registry.authDenied, reason);
    const tally = this.#tallyFor();
    if (tally) increment(tally.authDenied, reason);
  }
}
