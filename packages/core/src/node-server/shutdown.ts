/**
 * The parts of a drain every container adapter shares, whether it owns the server (the Node
 * server of OpenFaaS and Knative) or only the function a runtime calls (Kubeless): counting what
 * is in flight, the grace period a second signal cuts short, and the cut that answers what is
 * still running with a 503 so its span and access line are flushed rather than lost.
 */
import { cutInFlight, shuttingDown } from '../adapter.js';
import type { Mesh } from '../mesh.js';

/**
 * How long the 503s of a drain cut short get to be written before the sockets close or the
 * process exits: they are small and written as soon as the cut settles each invocation (a few
 * ms on loopback).
 */
const cutWriteMs = 250;

/** Requests being served, and a promise for the moment there are none. */
export class InFlight {
  #count = 0;
  #waiters: (() => void)[] = [];

  get count(): number {
    return this.#count;
  }

  start(): void {
    this.#count++;
  }

  end(): void {
    this.#count--;
    if (this.#count === 0 && this.#waiters.length > 0) for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once nothing is in flight (at once when nothing is). */
  idle(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}

/** A drain's grace period: ends when its time is up, or at once on {@link GracePeriod.expire}. */
export class GracePeriod {
  readonly #expired: Promise<'expired'>;
  #end: () => void = () => {};
  #timer: NodeJS.Timeout | undefined;

  constructor(ms: number) {
    this.#expired = new Promise((resolve) => {
      this.#end = () => resolve('expired');
      this.#timer = setTimeout(this.#end, ms);
    });
  }

  /** A second shutdown signal: the grace period is over now. */
  expire(): void {
    this.#end();
  }

  /** `'drained'` when `done` settles first, `'expired'` when the grace period ends first. */
  async race(done: Promise<unknown>): Promise<'drained' | 'expired'> {
    const outcome = await Promise.race([done.then(() => 'drained' as const), this.#expired]);
    clearTimeout(this.#timer);
    return outcome;
  }
}

/**
 * The grace period is over: every invocation still running gets its signal aborted and its
 * caller a 503 it may retry (`Retry-After: 1`); its span and access line end as that error. Waits
 * up to {@link cutWriteMs} for those responses to be written; returns how many were cut.
 */
export async function cutRemaining(mesh: Mesh, inFlight: InFlight): Promise<number> {
  const cut = cutInFlight(mesh, shuttingDown());
  mesh.log.warn({ in_flight: inFlight.count, cut }, 'grace period over: cutting the remaining requests');
  if (inFlight.count > 0) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      inFlight.idle(),
      new Promise((resolve) => (timer = setTimeout(resolve, cutWriteMs))),
    ]);
    clearTimeout(timer);
  }
  return cut;
}

/**
 * Calls `drain` on the first of `signals` (then `process.exit(0)` when `exit`), and `again` on
 * every later one — listening with `on`, not `once`: a second SIGTERM or a SIGINT during the drain
 * must shorten it, never kill the process before the flush. Returns what removes the listeners.
 */
export function onShutdownSignals(
  mesh: Mesh,
  signals: readonly NodeJS.Signals[],
  drain: () => Promise<void>,
  again: () => void,
  details: () => Record<string, unknown>,
  exit: boolean,
): () => void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (draining) {
      mesh.log.warn({ signal, ...details() }, 'second shutdown signal: ending the grace period now');
      again();
      return;
    }
    draining = true;
    mesh.log.info({ signal, ...details() }, 'shutdown signal: draining');
    void drain().then(
      () => exit && process.exit(0),
      (error: unknown) => {
        mesh.log.error({ err: error }, 'drain failed');
        if (exit) process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
