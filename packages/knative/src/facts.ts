/** Knative's facts about the running revision, read once from the environment. */
import { type MeshContext, type TelemetryFacts, type TraceCarrier, traceContextOf } from '@sidecarless/core';

/**
 * `K_SERVICE`, `K_REVISION` and `K_CONFIGURATION` as OpenTelemetry attributes: `faas.name`,
 * `faas.version`, and `knative.configuration`.
 *
 * @example
 * ```ts no-check
 * knativeAttributes({ K_SERVICE: 'orders', K_REVISION: 'orders-00042' });
 * // { 'faas.name': 'orders', 'faas.version': 'orders-00042' }
 * ```
 */
export function knativeAttributes(env: NodeJS.ProcessEnv): Readonly<Record<string, string>> {
  const attributes: Record<string, string> = {};
  if (env.K_SERVICE) attributes['faas.name'] = env.K_SERVICE;
  if (env.K_REVISION) attributes['faas.version'] = env.K_REVISION;
  if (env.K_CONFIGURATION) attributes['knative.configuration'] = env.K_CONFIGURATION;
  return Object.freeze(attributes);
}

/** The port Knative tells the container to listen on (`PORT`, default 8080). */
export function knativePort(env: NodeJS.ProcessEnv): number {
  if (env.PORT === undefined || env.PORT === '') return 8080;
  const port = Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new TypeError(
      `PORT=${JSON.stringify(env.PORT)} is not a port; Knative sets it to an integer such as 8080`,
    );
  return port;
}

/**
 * The telemetry stage's facts for Knative: `faas.name`/`faas.version` from `K_SERVICE`/
 * `K_REVISION`, `faas.instance` from the pod's `HOSTNAME`.
 *
 * @example
 * ```ts
 * import { knativeTelemetry } from '@sidecarless/knative';
 *
 * knativeTelemetry({ K_SERVICE: 'orders', K_REVISION: 'orders-00042' });
 * // { faas: { name: 'orders', version: 'orders-00042', instance: undefined } }
 * ```
 */
export function knativeTelemetry(env: NodeJS.ProcessEnv): TelemetryFacts {
  return Object.freeze({
    faas: Object.freeze({
      name: env.K_SERVICE || undefined,
      version: env.K_REVISION || undefined,
      instance: env.HOSTNAME || undefined,
    }),
  });
}

/**
 * A CloudEvent's distributed-tracing extension as a trace parent; undefined when absent.
 * Unparsed: the telemetry stage validates it (a malformed one starts a new trace).
 */
export function cloudEventParent(
  event: { readonly traceparent?: unknown; readonly tracestate?: unknown } | undefined,
): TraceCarrier | undefined {
  const traceparent = event?.traceparent;
  if (typeof traceparent !== 'string' || traceparent === '') return undefined;
  const tracestate = event?.tracestate;
  return typeof tracestate === 'string' && tracestate !== '' ? { traceparent, tracestate } : { traceparent };
}

/**
 * `event` with this invocation's trace context as its distributed-tracing extension
 * (`traceparent`, `tracestate`), for a CloudEvent the function sends on or replies with: the
 * receiving `knative.cloudevents` makes its span a child of this invocation's. Unchanged when
 * tracing is off; an extension the event already carries is replaced.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { knative, withTraceContext } from '@sidecarless/knative';
 *
 * const mesh = createMesh({ service: 'order-events' });
 * knative.cloudevents(mesh, (event, ctx) =>
 *   withTraceContext(ctx, { specversion: '1.0', id: `${event.id}-ack`, type: 'order.acknowledged', source: '/orders' }),
 * );
 * ```
 */
export function withTraceContext<E extends object>(
  ctx: Pick<MeshContext, 'telemetry'>,
  event: E,
): E & { traceparent?: string; tracestate?: string } {
  const carrier = traceContextOf(ctx);
  if (!carrier?.traceparent) return event;
  const { tracestate: _dropped, ...rest } = event as E & { tracestate?: string };
  return carrier.tracestate
    ? { ...(rest as E), traceparent: carrier.traceparent, tracestate: carrier.tracestate }
    : { ...(rest as E), traceparent: carrier.traceparent };
}
