/**
 * Batches the light tracer's ended spans into a span exporter: an export when a batch is full,
 * else on a timer (unref'd: it never keeps a process alive), and on `forceFlush` — which Lambda
 * calls at the end of every invocation. Each export is bounded by `exportTimeoutMs`; a full queue
 * drops new spans (counted) rather than growing without bound.
 *
 * A collector that failed must not tax every invocation: a black-holed one made each Lambda
 * flush wait the whole 2 s export timeout. After a failed (or timed-out) export the batcher opens
 * a breaker: for a cool-down (1 s, doubling per failure up to 30 s) nothing is sent and flushes
 * return at once, spans staying queued (bounded, drops counted); then one batch is sent as a
 * probe, waited on for at most `probeWaitMs` (50 ms: long enough for a live collector on a
 * kept-alive connection, short enough that a dead one costs an invocation little). Its success
 * closes the breaker; its failure reopens it for twice as long. Spans of a failed export are
 * counted as dropped.
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
  /** Cool-down after the first failure; doubles per failed probe. Default 1 s. */
  readonly breakerBaseMs?: number;
  /** Longest cool-down. Default 30 s. */
  readonly breakerMaxMs?: number;
  /** How long a flush waits on a probe export. Default 50 ms. */
  readonly probeWaitMs?: number;
  /** The clock (tests). */
  readonly now?: () => number;
}

export class SpanBatcher implements SpanPipeline {
  readonly #exporter: SpanExporter;
  readonly #options: SpanBatcherOptions;
  #queue: ReadableSpan[] = [];
  readonly #pending = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #failing = false;
  #shutDown = false;
  /** When the breaker lets the next (probe) export through; 0 while closed. */
  #openUntil = 0;
  #coolDownMs = 0;
  /** Spans dropped: the queue was full, or their export failed. */
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
    if (this.#queue.length >= this.#options.maxExportBatchSize && !this.#isOpen()) this.#exportBatch();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#drain(), this.#options.scheduledDelayMs);
      this.#timer.unref();
    }
  }

  /** True while the breaker holds exports back. */
  get breakerOpen(): boolean {
    return this.#isOpen();
  }

  /**
   * Exports everything queued and waits for every export in flight (each bounded). With the
   * breaker open it returns at once; when the cool-down is over it sends one probe batch and
   * waits for it at most `probeWaitMs`.
   */
  async forceFlush(): Promise<void> {
    if (this.#openUntil !== 0) {
      if (this.#isOpen() || this.#pending.size > 0) return;
      const probe = this.#exportBatch();
      if (probe !== undefined) await raceTimeout(probe, this.#options.probeWaitMs ?? 50);
      return;
    }
    this.#drain();
    await Promise.all(this.#pending);
    await this.#exporter.forceFlush?.();
  }

  async shutdown(): Promise<void> {
    if (this.#shutDown) return;
    this.#shutDown = true;
    // Open breaker: one last probe rather than nothing (the collector may be back).
    if (this.#openUntil !== 0) this.#openUntil = 1;
    await this.forceFlush();
    await this.#exporter.shutdown();
  }

  #drain(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#openUntil !== 0) {
      // Breaker open (or half-open): one probe at a time, the rest waits for it.
      if (!this.#isOpen() && this.#pending.size === 0) this.#exportBatch();
      if (this.#queue.length > 0) this.#schedule(Math.max(0, this.#openUntil - this.#now()));
      return;
    }
    while (this.#queue.length > 0) this.#exportBatch();
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined || this.#shutDown) return;
    this.#timer = setTimeout(() => this.#drain(), Math.max(delayMs, this.#options.scheduledDelayMs));
    this.#timer.unref();
  }

  #exportBatch(): Promise<void> | undefined {
    if (this.#queue.length === 0) return undefined;
    const max = this.#options.maxExportBatchSize;
    let batch: ReadableSpan[];
    if (this.#queue.length <= max) {
      batch = this.#queue;
      this.#queue = [];
    } else batch = this.#queue.splice(0, max);
    const work = exportOnce(this.#exporter, batch, this.#options.exportTimeoutMs).then((failure) => {
      if (failure === undefined) this.#succeeded();
      else {
        this.dropped += batch.length;
        this.#failed(failure);
      }
      this.#pending.delete(work);
    });
    this.#pending.add(work);
    return work;
  }

  #succeeded(): void {
    this.#failing = false;
    this.#openUntil = 0;
    this.#coolDownMs = 0;
  }

  #failed(reason: unknown): void {
    const base = this.#options.breakerBaseMs ?? 1_000;
    this.#coolDownMs = Math.min(
      this.#options.breakerMaxMs ?? 30_000,
      this.#coolDownMs === 0 ? base : this.#coolDownMs * 2,
    );
    this.#openUntil = this.#now() + this.#coolDownMs;
    if (this.#queue.length > 0) this.#schedule(this.#coolDownMs);
    if (this.#failing) return;
    this.#failing = true;
    this.#options.onExportFailure(reason);
  }

  #isOpen(): boolean {
    return this.#openUntil !== 0 && this.#now() < this.#openUntil;
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}

/** Waits for `work`, or `ms`, whichever comes first (the timer never keeps the process alive). */
function raceTimeout(work: Promise<void>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void work.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
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
