/**
 * The headers a request leaves with: the caller's headers minus hop-by-hop ones (they describe
 * one connection, not the request — RFC 9110 §7.6.1), W3C trace context and baggage from the
 * active OpenTelemetry context, and the remaining deadline.
 */
import { channel } from 'node:diagnostics_channel';
import { createContextKey, context as otelContext, propagation } from '@opentelemetry/api';

const hopByHop = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

/** Copies `init` headers into a plain lower-case object, without hop-by-hop headers. */
export function outgoingHeaders(init: RequestInit['headers'] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (init === undefined) return out;
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    if (hopByHop.has(key)) return;
    out[key] = out[key] === undefined ? value : `${out[key]}, ${value}`;
  };
  if (init instanceof Headers) for (const [name, value] of init) add(name, value);
  else if (Array.isArray(init)) for (const [name, value] of init as [string, string][]) add(name, value);
  else for (const name of Object.keys(init)) add(name, String((init as Record<string, string>)[name]));
  // Headers named in Connection are hop-by-hop too.
  const connection = init instanceof Headers ? init.get('connection') : undefined;
  if (connection) for (const name of connection.split(',')) delete out[name.trim().toLowerCase()];
  return out;
}

/** Injects trace context and baggage from `context` (default: the active one). */
export function injectTraceContext(headers: Record<string, string>, context: unknown): void {
  propagation.inject((context as Parameters<typeof propagation.inject>[0]) ?? otelContext.active(), headers);
}

/**
 * OpenTelemetry's `suppressTracing` key (`@opentelemetry/core` makes it with the api's
 * `createContextKey`, a `Symbol.for`, so this is the same key without loading the SDK).
 */
const suppressTracingKey = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

/**
 * What `@opentelemetry/instrumentation-undici` listens to: undici (the npm package the mesh
 * dispatches with, as much as Node's bundled one) publishes every request it creates here.
 */
const requestCreateChannel = channel('undici:request:create');

/**
 * Runs `dispatch` so that an application's undici instrumentation does not trace it a second
 * time: the mesh's own CLIENT span already records the attempt (with its upstream, route, subset
 * and resend count) and has put its `traceparent` on the request. Inside OpenTelemetry's
 * suppressed context the SDK's tracer hands the instrumentation a non-recording span and its
 * propagator injects nothing, so the request leaves with the mesh's headers only. Free when no
 * one subscribes to undici's channel (one `hasSubscribers` read).
 */
export function dispatchUntraced<R>(dispatch: () => R): R {
  if (!requestCreateChannel.hasSubscribers) return dispatch();
  return otelContext.with(otelContext.active().setValue(suppressTracingKey, true), dispatch);
}
