/**
 * Choosing the tracer (`telemetry.tracing.provider`): the provider the application registered
 * (NodeTracerProvider, NodeSDK, the OpenTelemetry Lambda layer) when there is one; else ours (the
 * light tracer, loaded lazily) when an exporter or a span processor is configured; else the api's
 * proxy. `"global"` always takes the api's provider, `"light"` always ours. The application's
 * provider is flushed with the mesh too, because a frozen Lambda loses whatever it still buffers.
 */
import {
  type Context,
  type Span,
  type SpanOptions,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { NormalizedTracing } from './options.js';
import { applicationProvider, registeredProvider, type TracerHandle, tracerName } from './tracer-registry.js';

export type { TracerHandle } from './tracer-registry.js';

function flushOf(provider: TracerProvider): () => Promise<void> {
  const flushable = provider as { forceFlush?: () => Promise<unknown> };
  return async () => {
    if (typeof flushable.forceFlush === 'function') await flushable.forceFlush();
  };
}

/**
 * The tracer of whichever provider gets registered, found when a span starts. Not the api's
 * `ProxyTracer`: that one is bound to the api copy that made it, and an application whose SDK
 * loads the api's CommonJS build while the mesh loads its ES module build (two module instances,
 * one global registration) would leave it a no-op forever. `trace.getTracerProvider()` reads the
 * one global registration, whoever made it. Until a provider is registered, spans are the api's
 * non-recording ones; after, the provider's tracer is kept.
 */
class GlobalTracer implements Tracer {
  #tracer: Tracer | undefined;

  #current(): Tracer {
    if (this.#tracer !== undefined) return this.#tracer;
    const provider = registeredProvider();
    if (provider === undefined) return trace.getTracer(tracerName);
    this.#tracer = provider.getTracer(tracerName);
    return this.#tracer;
  }

  startSpan(name: string, options?: SpanOptions, context?: Context): Span {
    return this.#current().startSpan(name, options, context);
  }

  startActiveSpan: Tracer['startActiveSpan'] = (...args: unknown[]) =>
    (this.#current().startActiveSpan as (...a: unknown[]) => never)(...args);
}

/** Resolves the tracer for `tracing`, loading the SDK only when it is ours to set up. */
export async function resolveTracer(
  tracing: NormalizedTracing,
  resource: Record<string, string>,
  onExportFailure: (reason: unknown) => void,
): Promise<TracerHandle> {
  const application = tracing.provider === 'light' ? undefined : applicationProvider();
  if (application) {
    return {
      tracer: application.getTracer(tracerName),
      flush: flushOf(application),
      // The application owns its provider's lifetime.
      shutdown: async () => {},
      source: 'application',
    };
  }
  if (
    tracing.provider === 'global' ||
    (tracing.exporter === undefined && tracing.spanProcessor === undefined)
  ) {
    // No exporter and no provider yet: a provider registered later (after createMesh) still
    // receives the spans.
    return {
      tracer: new GlobalTracer(),
      flush: () => flushOf(trace.getTracerProvider())(),
      shutdown: async () => {},
      source: 'none',
    };
  }
  const light = await import('./light-setup.js');
  return light.startLightTracer(tracing, resource, onExportFailure);
}
