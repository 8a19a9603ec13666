/**
 * Which tracer provider is whose: the one the application registered with the api, or one a mesh
 * made (marked, so a second mesh does not mistake it for the application's). Kept apart from
 * tracer.ts so the light tracer's setup, which tracer.ts loads lazily, imports this and not its
 * loader.
 */
import { createContextKey, type Tracer, type TracerProvider, trace } from '@opentelemetry/api';

export const tracerName = '@sidecarless/core';

/**
 * The context key OpenTelemetry's `suppressTracing` sets (`@opentelemetry/core`; the api makes
 * keys with `Symbol.for`, so this is the same key). The mesh's OTLP exporter sends inside it, so an
 * application's `@opentelemetry/instrumentation-http` does not trace the export POSTs (the
 * official exporters do the same); the light tracer starts no span inside it.
 */
export const suppressTracingKey = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');

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
