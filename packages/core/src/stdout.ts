/**
 * Writing a whole line to standard output, synchronously: Lambda freezes the process as soon as
 * the handler's result is returned, so a line still queued in a stream would be lost (or written
 * into the next invocation's logs). Used by the logger, the access line and the EMF metrics.
 */
import { nodeBuiltin } from './node-builtin.js';
import type { LogDestination } from './options/logging.js';

/** One cell to `Atomics.wait` on: a short, CPU-free pause while a full pipe drains. */
const pauseCell = new Int32Array(new SharedArrayBuffer(4));
const pauseMs = 1;
/** A reader that never drains must not hang the invocation: give up on the line after this. */
const giveUpAfterMs = 1_000;

/** `fs.writeSync`, fetched on the first line (see node-builtin.ts). */
let writeSync: typeof import('node:fs').writeSync | undefined;

/**
 * Writes `line` to file descriptor 1 in full. Lambda's and most containers' standard output is
 * a pipe that may be non-blocking: a write can then take part of the line or fail with `EAGAIN`
 * while the reader catches up, and both are retried. Any other failure (the reader went away)
 * drops the line: a log line must never fail the invocation that writes it.
 */
export function writeToStdout(line: string): void {
  writeSync ??= nodeBuiltin('node:fs').writeSync;
  let pending: string | Buffer = line;
  let waitedMs = 0;
  for (;;) {
    let written = 0;
    try {
      written = typeof pending === 'string' ? writeSync(1, pending) : writeSync(1, pending);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return;
    }
    const length = typeof pending === 'string' ? Buffer.byteLength(pending) : pending.length;
    if (written === length) return;
    if (written > 0) {
      // Part of the line went out: the rest goes on at once.
      pending = (typeof pending === 'string' ? Buffer.from(pending) : pending).subarray(written);
    } else {
      // Nothing went out (EAGAIN): wait for the reader, within bounds.
      if (waitedMs >= giveUpAfterMs) return;
      Atomics.wait(pauseCell, 0, 0, pauseMs);
      waitedMs += pauseMs;
    }
  }
}

/** Where the mesh's lines go: the configured `logging.destination`, else standard output. */
export function lineWriter(destination: LogDestination | undefined): (line: string) => void {
  return destination ? (line) => void destination.write(line) : writeToStdout;
}
