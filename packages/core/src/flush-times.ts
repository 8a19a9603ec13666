/**
 * How long the last flushes took, and the time before a deadline they ask to be kept back: the
 * second slowest of the last 16 × 1.5 + 10 ms (one outlier, such as the export that found a
 * collector dead, does not set it), at most 500 ms and at most half of what is left. Used by
 * the telemetry watchdog and the Lambda adapter's safety margin. After a cold start a fixed
 * 100 ms was too short: spans arrived 8–41 ms before the kill, and 2 of 1,782 were lost.
 *
 * The allowance is worked out when a flush is recorded (once per invocation, off the response
 * path), so reading it at the start of every invocation costs a field read, not a sort.
 */
export class FlushTimes {
  readonly #recent: number[] = [];
  #allowanceMs = 0;

  /** Records one flush's duration (ms). */
  record(ms: number): void {
    this.#recent.push(ms);
    if (this.#recent.length > 16) this.#recent.shift();
    const sorted = [...this.#recent].sort((a, b) => b - a);
    this.#allowanceMs = Math.min(500, Math.ceil(sorted[Math.min(1, sorted.length - 1)]! * 1.5) + 10);
  }

  /**
   * The time to keep back before a deadline `remainingMs` away; 0 before any flush was recorded.
   *
   * @example
   * ```ts
   * import { FlushTimes } from '@sidecarless/core/adapter';
   *
   * const flushes = new FlushTimes();
   * flushes.record(40);
   * flushes.allowance(3_000); // 70
   * ```
   */
  allowance(remainingMs: number): number {
    return Math.min(this.#allowanceMs, Math.floor(remainingMs / 2));
  }
}
