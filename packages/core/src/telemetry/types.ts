/**
 * The telemetry hooks, as types only: the kernel, adapters and the outbound client import these
 * with `import type`, so none of them loads `@opentelemetry/api` or the telemetry code unless the
 * `telemetry` options section is present.
 */
import type { Span } from '@opentelemetry/api';

/**
 * An incoming trace context that did not arrive as HTTP headers (those are read from the
 * `Request` directly). Every field is optional; the first usable one wins, in the order W3C
 * `traceparent`, then `xRay`.
 */
export interface TraceCarrier {
  /** W3C `traceparent` (HTTP header, CloudEvents distributed-tracing extension, SQS/SNS attribute). */
  readonly traceparent?: string | undefined;
  /** W3C `tracestate`, kept with the parent. */
  readonly tracestate?: string | undefined;
  /** W3C `baggage`. */
  readonly baggage?: string | undefined;
  /**
   * An AWS X-Ray trace header: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1`
   * (Lambda's `_X_AMZN_TRACE_ID`, an SQS message's `AWSTraceHeader`).
   */
  readonly xRay?: string | undefined;
}

/**
 * What an adapter tells the telemetry stage about an invocation, on
 * `InvocationFacts.telemetry`. All optional: the local adapter passes none.
 *
 * @example
 * ```ts
 * import type { TelemetryFacts } from '@sidecarless/core';
 *
 * // What a Lambda adapter passes for an SQS batch of two messages.
 * const facts: TelemetryFacts = {
 *   kind: 'consumer',
 *   spanName: 'orders-queue process',
 *   parent: { xRay: process.env._X_AMZN_TRACE_ID },
 *   links: [{ xRay: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1' }, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }],
 *   cloud: { provider: 'aws', region: 'eu-west-1', accountId: '123456789012' },
 *   faas: { name: 'orders', version: '$LATEST', maxMemoryMb: 512 },
 * };
 * ```
 */
export interface TelemetryFacts {
  /** `server` (default: HTTP, synchronous invokes) or `consumer` (queues, topics, CloudEvents). */
  readonly kind?: 'server' | 'consumer';
  /** The span name; default `"<METHOD> <path>"` for HTTP and `"<service> invoke"` for events. */
  readonly spanName?: string;
  /** The parent context when it is not in the request's headers. */
  readonly parent?: TraceCarrier;
  /** One per message of a batch: the invocation span links to each message's context. */
  readonly links?: readonly TraceCarrier[];
  /** `cloud.provider`, `cloud.region`, `cloud.account.id`. */
  readonly cloud?: {
    readonly provider?: string | undefined;
    readonly region?: string | undefined;
    readonly accountId?: string | undefined;
  };
  /** `faas.name` (default: the service), `faas.version`, `faas.max_memory` (MiB), `faas.instance`. */
  readonly faas?: {
    readonly name?: string | undefined;
    readonly version?: string | undefined;
    readonly maxMemoryMb?: number | undefined;
    readonly instance?: string | undefined;
  };
}

/** One outbound attempt, as the outbound client describes it to {@link InvocationTelemetry.startClientSpan}. */
export interface OutboundAttempt {
  /** The configured upstream's name (`upstreams[name]`), the `upstream` metric label. */
  readonly upstream: string;
  readonly method: string;
  readonly url: URL;
  /** 0 for the first try, 1 for the first retry… (`http.request.resend_count`). */
  readonly attempt: number;
}

/** Where {@link ClientSpan.inject} writes: a Fetch `Headers` or any `set(name, value)`. */
export interface HeaderSetter {
  set(name: string, value: string): void;
}

/** A CLIENT span in progress. */
export interface ClientSpan {
  /**
   * Writes `traceparent` (and `tracestate`/`baggage` when present) into the outgoing headers: a
   * Fetch `Headers`, or anything with `set(name, value)`.
   */
  inject(headers: HeaderSetter): void;
  /**
   * Ends the span and counts `serverless_upstream_requests_total{upstream, code}` — `code` is the
   * HTTP status, or the error's code (`SCL_ERR_TIMEOUT`, `ECONNREFUSED`…) when there was none.
   */
  end(outcome: { readonly status?: number; readonly error?: unknown }): void;
}

/**
 * The telemetry of one invocation, on `ctx.telemetry` while the telemetry feature is on. The
 * outbound client and the auth stage call it; handlers rarely need to.
 *
 * @example
 * ```ts
 * import type { MeshContext } from '@sidecarless/core';
 *
 * async function callInventory(ctx: MeshContext, url: URL): Promise<Response> {
 *   const span = ctx.telemetry?.startClientSpan({ upstream: 'inventory', method: 'GET', url, attempt: 0 });
 *   const headers = new Headers();
 *   span?.inject(headers);
 *   try {
 *     const response = await fetch(url, { headers, signal: ctx.signal });
 *     span?.end({ status: response.status });
 *     return response;
 *   } catch (error) {
 *     span?.end({ error });
 *     throw error;
 *   }
 * }
 * ```
 */
export interface InvocationTelemetry {
  /**
   * The invocation's SERVER/CONSUMER span (a non-recording one when not sampled); undefined
   * when `telemetry.tracing` is not configured.
   */
  readonly span: Span | undefined;
  /** Starts a CLIENT span, child of the invocation span, for one outbound attempt. */
  startClientSpan(attempt: OutboundAttempt): ClientSpan;
  /** Counts `serverless_upstream_retries_total{upstream}`. */
  upstreamRetry(upstream: string): void;
  /** Sets the `serverless_upstream_circuit_open{upstream}` gauge (1 open, 0 closed). */
  circuitState(upstream: string, open: boolean): void;
  /** Counts `serverless_upstream_ejections_total{upstream}` (outlier detection). */
  upstreamEjection(upstream: string): void;
  /** Counts `serverless_auth_denied_total{reason}`; `reason` is a short code, never a token. */
  authDenied(reason: string): void;
}
