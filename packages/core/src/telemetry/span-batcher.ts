/**
 * Batches the light tracer's ended spans into a span exporter: an export when a batch is full,
 * else on a timer (unref'd: it never keeps a process alive), and on `forceFlush` — which Lambda
 * calls at the end of every invocation. Each export is bounded by `exportTimeoutMs`; a full queue
 * drops new spans (counted) rather than growing without bound.
 */
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { SpanPipeline } from './span-pipeline.js';

export interface SpanBatcherOptions {
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMs: number;
  readonly exportTimeoutMs: number;
  /** Told when an export fails after one succeeded (or the first fails), with the reason. */
  readonly onExportFailure: (reason: unknown) => void;
}

export class SpanBatcher implements SpanPipeline {
  readonly #exporter: SpanExporter;
  readonly #options: SpanBatcherOptions;
  #queue: ReadableSpan[] = [];
  readonly #pending = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #failing = false;
  #shutDown = false;
  /** Spans dropped because the queue was full. */
  dropped = 0;

  constructor(exporter: SpanExporter, options: SpanBatcherOptions) {
    this.#exporter = exporter;
    this.#options = options;
  }

  onEnd(span: ReadableSpan): void {
    // After shutdown the exporter is closed: spans ended later (an invocation still running
    // at SIGTERM) are dropped, as the SDK's batch processor drops them.
    if (this.#shutDown) return;
    if (this.#queue.length >= this.#options.maxQueueSize) {
      this.dropped++;
      return;
    }
    this.#queue.push(span);
    if (this.#queue.length >= this.#options.maxExportBatchSize) this.#exportBatch();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#drain(), this.#options.scheduledDelayMs);
      this.#timer.unref();
    }
  }

  /** Exports everything queued and waits for every export in flight (each bounded). */
  async forceFlush(): Promise<void> {
    this.#drain();
    await Promise.all(this.#pending);
    await this.#exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    if (this.#shutDown) return;
    this.#shutDown = true;
    await this.forceFlush();
    await this.#exporter.shutdown();
  }

  #drain(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#queue.length > 0) this.#exportBatch();
  }

  #exportBatch(): void {
    const max = this.#options.maxExportBatchSize;
    let batch: ReadableSpan[];
    if (this.#queue.length <= max) {
      batch = this.#queue;
      this.#queue = [];
    } else batch = this.#queue.splice(0, max);
    const work = exportOnce(this.#exporter, batch, this.#options.exportTimeoutMs).then((failure) => {
      if (failure === undefined) this.#failing = false;
      else this.#failed(failure);
      this.#pending.delete(work);
    });
    this.#pending.add(work);
  }

  #failed(reason: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#options.onExportFailure(reason);
  }
}

/**
 * One export, bounded by `timeoutMs`; resolves with the failure, or undefined on success. A
 * function of its own so that nothing waiting on the result keeps the batch alive.
 */
function exportOnce(exporter: SpanExporter, batch: ReadableSpan[], timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => resolve(new Error(`span export timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    timer.unref();
    try {
      exporter.export(batch, (result) => {
        clearTimeout(timer);
        resolve(result.code === 0 ? undefined : (result.error ?? new Error('span export failed')));
      });
    } catch (error) {
      clearTimeout(timer);
      resolve(error);
    }
  });
}
