/**
 * Sets up the mesh's light tracer (light-tracer.ts) behind `telemetry.tracing`: spans go to the
 * configured exporter (our OTLP/HTTP exporter for `"otlp"`, or the exporter object the
 * application passed), batched, and to the application's span processor when one is passed.
 */

import { LightTracerProvider } from './light-tracer.js';
import type { NormalizedTracing } from './options.js';
import { createOtlpHttpExporter } from './otlp-http-exporter.js';
import { SpanBatcher } from './span-batcher.js';
import { fanOut, processorPipeline, type SpanPipeline } from './span-pipeline.js';
import { markOwnProvider, registeredProvider, type TracerHandle, tracerName } from './tracer-registry.js';

/** Builds the provider; registers it globally only when no provider is registered yet. */
export async function startLightTracer(
  tracing: NormalizedTracing,
  resource: Record<string, string>,
  onExportFailure: (reason: unknown) => void,
): Promise<TracerHandle> {
  const pipelines: SpanPipeline[] = [];
  if (tracing.spanProcessor !== undefined)
    pipelines.push(processorPipeline(tracing.spanProcessor, onExportFailure));
  if (tracing.exporter !== undefined) {
    let exporter = tracing.exporter;
    if (exporter === 'otlp') {
      // The protobuf encoder is loaded only for `http/protobuf` (JSON needs none).
      const encodeProtobuf =
        tracing.protocol === 'http/protobuf'
          ? (await import('./otlp-protobuf.js')).encodeSpansProtobuf
          : undefined;
      const otlp = createOtlpHttpExporter({
        // Checked at createMesh: set whenever the exporter is "otlp".
        url: tracing.endpoint!,
        headers: tracing.headers,
        timeoutMs: tracing.exportTimeoutMs,
        encodeProtobuf,
        compression: tracing.compression,
      });
      // Connect while the mesh gets ready (Lambda: during init), not inside the first flush.
      void otlp.prepare();
      exporter = otlp;
    }
    pipelines.push(
      new SpanBatcher(exporter, {
        // Lambda flushes at the end of every invocation, so the queue rarely holds more than one
        // invocation's spans; servers export every second.
        maxQueueSize: 4096,
        maxExportBatchSize: 512,
        scheduledDelayMs: 1_000,
        exportTimeoutMs: tracing.exportTimeoutMs,
        onExportFailure,
      }),
    );
  }
  const provider = new LightTracerProvider({ resource, ratio: tracing.ratio, pipeline: fanOut(pipelines) });
  markOwnProvider(provider);
  // Registering makes `trace.getActiveSpan()` work in handler code (async-local context) and lets
  // instrumentations the application adds export through us. A second mesh in the same process
  // keeps its own provider unregistered: the first one owns the globals.
  if (registeredProvider() === undefined) provider.register();
  return {
    tracer: provider.getTracer(tracerName),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
    source: 'light',
  };
}
