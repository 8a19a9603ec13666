/**
 * The OpenTelemetry SDK setup — the only module that imports the SDK. It is imported (lazily,
 * by the telemetry feature) only when `telemetry.tracing` passes a span processor of the
 * application's (which expects SDK spans) and the application has not registered a tracer
 * provider of its own. Every other configuration uses the light tracer (light-tracer.ts): the
 * SDK chain costs 35–40 ms to import and set up, bundled (bench/telemetry-cold-start.bench.ts).
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-node';
import type { NormalizedTracing } from '../options/telemetry.js';
import { createOtlpHttpExporter } from './otlp-http-exporter.js';
import { markOwnProvider, registeredProvider, type TracerHandle, tracerName } from './tracer.js';

/** Builds the mesh's tracer provider. Registers it globally only when none is registered yet. */
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
        // Lambda flushes at the end of every invocation, so the queue rarely holds more than
        // one invocation's spans; servers export every second.
        maxQueueSize: 4096,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 1_000,
        exportTimeoutMillis: tracing.exportTimeoutMs,
      }),
    );
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes(resource),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(tracing.ratio) }),
    spanProcessors,
  });
  markOwnProvider(provider);
  // Registering makes `trace.getActiveSpan()` work in handler code (async-local context) and lets
  // instrumentations the application adds export through us. A second mesh in the same process
  // keeps its own provider unregistered: the first one owns the globals.
  if (registeredProvider() === undefined) provider.register();
  return {
    tracer: provider.getTracer(tracerName),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
    source: 'sdk',
  };
}
