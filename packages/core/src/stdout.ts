/**
 * Writing a whole line to standard output, synchronously: Lambda freezes the process as soon as
 * the handler's result is returned, so a line still queued in a stream would be lost (or written
 * into the next invocation's logs). Used by the logger, the access line and the EMF metrics.
 */
import { nodeBuiltin } from './node-builtin.js';

/** One cell to `Atomics.wait` on: a short, CPU-free pause while a full pipe drains. */
const pauseCell = new Int32Array(new SharedArrayBuffer(4));
const pauseMs = 1;
/** A reader that never drains must not hang the invocation: give up on the line after this. */
const giveUpAfterMs = 1_000;

/**
 * Writes `line` to file descriptor 1 in full. Lambda's and most containers' standard output is
 * a pipe that may be non-blocking: a write can then take part of the line or fail with `EAGAIN`
 * while the reader catches up, and both are retried. Any other failure (the reader went away)
 * drops the line: a log line must never fail the invocation that writes it.
 */
export function writeToStdout(line: string): void {
  const { writeSync } = nodeBuiltin('node:fs');
  let pending: Buffer | undefined;
  let waitedMs = 0;
  for (;;) {
    try {
      let written: number;
      if (pending === undefined) {
        written = writeSync(1, line);
        if (written === Buffer.byteLength(line)) return;
        pending = Buffer.from(line).subarray(written);
      } else {
        written = writeSync(1, pending);
        pending = pending.subarray(written);
        if (pending.length === 0) return;
      }
      if (written === 0) throw Object.assign(new Error('nothing written'), { code: 'EAGAIN' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || waitedMs >= giveUpAfterMs) return;
      Atomics.wait(pauseCell, 0, 0, pauseMs);
      waitedMs += pauseMs;
    }
  }
}
