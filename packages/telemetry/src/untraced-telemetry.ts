/**
 * `ctx.telemetry` without tracing: the upstream and auth counters, and CLIENT "spans" that only
 * count. Free of `@opentelemetry/api`, so a mesh with metrics but no tracing never loads it.
 * Without EMF one instance serves every invocation of a mesh (it holds no invocation state);
 * with EMF each invocation gets its own, which tallies what the invocation's EMF lines report.
 */
import type { ClientSpan, HeaderSetter, InvocationTelemetry, OutboundAttempt } from '@sidecarless/core';
import { LabelledCounter, type MetricsRegistry } from './metrics.js';

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
  readonly routeRequests = new LabelledCounter();
  readonly mirrors = new LabelledCounter();
  readonly rateLimited = new LabelledCounter();
  readonly storeFailures = new LabelledCounter();
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** An outbound attempt that is counted but not traced. */
class CountedAttempt implements ClientSpan {
  readonly #attempt: OutboundAttempt;
  readonly #telemetry: UntracedTelemetry;
  #ended = false;

  constructor(attempt: OutboundAttempt, telemetry: UntracedTelemetry) {
    this.#attempt = attempt;
    this.#telemetry = telemetry;
  }

  inject(_headers: HeaderSetter): void {
    // No trace to propagate.
  }

  end(outcome: { readonly status?: number; readonly error?: unknown }): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#telemetry.upstreamRequest(
      this.#attempt,
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
    return new CountedAttempt(attempt, this);
  }

  /**
   * Counts `serverless_upstream_requests_total{upstream, code}` and, for a routed attempt,
   * `serverless_upstream_route_requests_total{upstream, route, subset, fault}` (the client spans
   * call it when they end).
   */
  upstreamRequest(attempt: OutboundAttempt, code: string): void {
    if (!this.registry) return;
    const upstream = attempt.upstream;
    this.registry.upstreamRequest(upstream, code);
    const routed =
      attempt.route === undefined
        ? undefined
        : [upstream, attempt.route, attempt.subset ?? 'unknown', attempt.fault ?? 'none'];
    if (routed) this.registry.routeRequests.add(routed);
    const tally = this.#tallyFor();
    if (tally && routed) tally.routeRequests.add(routed);
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

  upstreamMirror(upstream: string, outcome: 'sent' | 'dropped' | 'failed'): void {
    if (!this.registry) return;
    this.registry.mirrors.add([upstream, outcome]);
    // A copy that fails after the invocation's EMF lines were written counts in the registry only.
    const tally = this.#tallyFor();
    if (tally) tally.mirrors.add([upstream, outcome]);
  }

  rateLimited(descriptor: string, mode: 'enforce' | 'shadow'): void {
    if (!this.registry) return;
    this.registry.rateLimited.add([descriptor, mode]);
    this.#tallyFor()?.rateLimited.add([descriptor, mode]);
  }

  rateLimitStoreFailure(failureMode: 'open' | 'closed'): void {
    if (!this.registry) return;
    this.registry.storeFailures.add([failureMode]);
    this.#tallyFor()?.storeFailures.add([failureMode]);
  }

  authDenied(reason: string): void {
    if (!this.registry) return;
    this.registry.increment(this.registry.authDenied, reason);
    const tally = this.#tallyFor();
    if (tally) increment(tally.authDenied, reason);
  }
}
