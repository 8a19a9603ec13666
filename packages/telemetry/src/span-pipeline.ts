/**
 * Where the light tracer hands its spans: the batcher in front of the mesh's exporter, the
 * application's own `SpanProcessor` (`telemetry.tracing.spanProcessor`), or both.
 *
 * A span processor is driven directly, as the SDK's tracer drives it: `onStart` when a sampled
 * span starts (with its attributes and links set), `onEnd` when it ends, `forceFlush` at every
 * mesh flush. The light tracer's spans are the SDK's `ReadableSpan` shape, so the SDK's batch and
 * simple processors and the exporters behind them take them as they are — and the SDK itself,
 * 180 KB in a bundle and 30–40 ms to load, is never loaded by the mesh.
 */
import type { Context } from '@opentelemetry/api';
import type { Span as SdkSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { RecordedSpan, SpanSink } from './recorded-span.js';

/** What the light tracer needs of the code its spans go to. */
export interface SpanPipeline extends SpanSink {
  onStart?(span: RecordedSpan, parentContext: Context): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * The application's span processor as a pipeline. A processor that throws is reported through
 * `onFailure` and never fails the span's code (the handler's invocation).
 */
export function processorPipeline(
  processor: SpanProcessor,
  onFailure: (reason: unknown) => void,
): SpanPipeline {
  return {
    onStart(span, parentContext) {
      try {
        // The SDK hands processors its own Span class; ours has the same api and ReadableSpan shape.
        processor.onStart(span as unknown as SdkSpan, parentContext);
      } catch (error) {
        onFailure(error);
      }
    },
    onEnd(span) {
      try {
        processor.onEnd(span);
      } catch (error) {
        onFailure(error);
      }
    },
    forceFlush: () => processor.forceFlush(),
    shutdown: () => processor.shutdown(),
  };
}

/** One pipeline that hands every span to each of `pipelines`, in order. */
export function fanOut(pipelines: readonly SpanPipeline[]): SpanPipeline {
  if (pipelines.length === 1) return pipelines[0]!;
  return {
    onStart(span, parentContext) {
      for (const pipeline of pipelines) pipeline.onStart?.(span, parentContext);
    },
    onEnd(span) {
      for (const pipeline of pipelines) pipeline.onEnd(span);
    },
    forceFlush: async () => {
      await Promise.all(pipelines.map((pipeline) => pipeline.forceFlush()));
    },
    shutdown: async () => {
      await Promise.all(pipelines.map((pipeline) => pipeline.shutdown()));
    },
  };
}
