/**
 * The OpenTelemetry SDK setup — the only module that imports the SDK. It is imported (lazily,
 * by the telemetry feature) only when `telemetry.tracing` passes a span processor of the
 * application's (which expects SDK spans) and the application has not registered a tracer
 * provider of its own. Every other configuration uses the light tracer (light-tracer.ts): the
 * SDK chain costs 30–40 ms to import and set up even bundled (bench/telemetry-cold-start.bench.ts).
 *
 * `BasicTracerProvider` from sdk-trace-base, not sdk-trace-node's `NodeTracerProvider`: the only
 * thing the latter adds is registering `@opentelemetry/context-async-hooks`' context manager and
 * the W3C propagators, and the light tracer's own (context-manager.ts, propagation.ts) do that.
 */
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { NormalizedTracing } from '../options/telemetry.js';
import { registerGlobals, staticResource } from './light-tracer.js';
import { createOtlpHttpExporter } from './otlp-http-exporter.js';
import { markOwnProvider, registeredProvider, type TracerHandle, tracerName } from './tracer.js';

/** Builds the mesh's SDK tracer provider. Registers it globally only when none is registered yet. */
export function startTracerProvider(
  tracing: NormalizedTracing,
  resource: Record<string, string>,
): TracerHandle {
  const spanProcessors: SpanProcessor[] = [];
  if (tracing.spanProcessor) spanProcessors.push(tracing.spanProcessor);
  if (tracing.exporter !== undefined) {
    const exporter =
      tracing.exporter === 'otlp'
        ? createOtlpHttpExporter({
            // Checked at createMesh: set whenever the exporter is "otlp".
            url: tracing.endpoint!,
            headers: tracing.headers,
            timeoutMs: tracing.exportTimeoutMs,
          })
        : tracing.exporter;
    spanProcessors.push(
      new BatchSpanProcessor(exporter, {
        maxQueueSize: 4096,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 1_000,
        exportTimeoutMillis: tracing.exportTimeoutMs,
      }),
    );
  }
  const provider = new BasicTracerProvider({
    resource: staticResource(resource),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(tracing.ratio) }),
    spanProcessors,
  });
  markOwnProvider(provider);
  // As with the light tracer: the first mesh registers its provider, context and propagator.
  if (registeredProvider() === undefined) registerGlobals(provider);
  return {
    tracer: provider.getTracer(tracerName),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
    source: 'sdk',
  };
}
