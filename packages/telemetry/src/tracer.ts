/**
 * Choosing the tracer: ours (the light tracer, loaded lazily) when an exporter or a span
 * processor is configured and the application registered no provider; the application's
 * registered provider otherwise — and that one is flushed too, because a frozen Lambda loses
 * whatever it still buffers.
 */
import { type Tracer, type TracerProvider, trace } from '@opentelemetry/api';
import type { NormalizedTracing } from './options.js';

export const tracerName = '@sidecarless/core';

const ownProviderKey = Symbol.for('sidecarless.tracer-provider');

/** The tracer a mesh uses, with the hooks to flush and release it. */
export interface TracerHandle {
  readonly tracer: Tracer;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
  /**
   * `light`: our own provider; `application`: the provider the application registered; `none`:
   * the api's proxy only.
   */
  readonly source: 'light' | 'application' | 'none';
}

/** Marks a provider as made by a mesh, so another mesh does not mistake it for the application's. */
export function markOwnProvider(provider: object): void {
  Object.defineProperty(provider, ownProviderKey, { value: true });
}

interface ProxyProvider extends TracerProvider {
  getDelegate(): TracerProvider;
  getDelegateTracer(name: string): Tracer | undefined;
}

/** The provider registered with `trace.setGlobalTracerProvider` (by anyone), if any. */
export function registeredProvider(): TracerProvider | undefined {
  // The api always hands out its proxy; a provider is registered when the proxy has a delegate.
  const proxy = trace.getTracerProvider() as TracerProvider & Partial<ProxyProvider>;
  if (typeof proxy.getDelegateTracer !== 'function' || typeof proxy.getDelegate !== 'function') return proxy;
  return proxy.getDelegateTracer(tracerName) === undefined ? undefined : proxy.getDelegate();
}

/** The provider the application registered, if any — not one a mesh registered. */
export function applicationProvider(): TracerProvider | undefined {
  const registered = registeredProvider();
  if (registered && (registered as unknown as Record<symbol, unknown>)[ownProviderKey] === true)
    return undefined;
  return registered;
}

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
  const application = applicationProvider();
  if (application) {
    return {
      tracer: application.getTracer(tracerName),
      flush: flushOf(application),
      // The application owns its provider's lifetime.
      shutdown: async () => {},
      source: 'application',
    };
  }
  if (tracing.exporter === undefined && tracing.spanProcessor === undefined) {
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
