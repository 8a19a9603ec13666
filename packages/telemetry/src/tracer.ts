/**
 * Choosing the tracer (`telemetry.tracing.provider`): the provider the application registered
 * (NodeTracerProvider, NodeSDK, the OpenTelemetry Lambda layer) when there is one; else ours (the
 * light tracer, loaded lazily) when an exporter or a span processor is configured; else the api's
 * proxy. `"global"` always takes the api's provider, `"light"` always ours. The application's
 * provider is flushed with the mesh too, because a frozen Lambda loses whatever it still buffers.
 */
import { type TracerProvider, trace } from '@opentelemetry/api';
import type { NormalizedTracing } from './options.js';
import { applicationProvider, type TracerHandle, tracerName } from './tracer-registry.js';

export type { TracerHandle } from './tracer-registry.js';

function flushOf(provider: TracerProvider): () => Promise<void> {
  const flushable = provider as { forceFlush?: () => Promise<unknown> };
  return async () => {
    if (typeof flushable.forceFlush === 'function') await flushable.forceFlush();
  };
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
    // No exporter and no provider yet: go through the api's proxy, so a provider registered
    // later (after createMesh) still receives the spans.
    const proxy = trace.getTracerProvider();
    return {
      tracer: proxy.getTracer(tracerName),
      flush: () => flushOf(trace.getTracerProvider())(),
      shutdown: async () => {},
      source: 'none',
    };
  }
  const light = await import('./light-setup.js');
  return light.startLightTracer(tracing, resource, onExportFailure);
}
