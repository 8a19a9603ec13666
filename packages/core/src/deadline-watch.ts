/**
 * One timer for every in-flight invocation's deadline, instead of one timer each.
 *
 * A server adapter answers 504 when the deadline passes before the handler does. In a loaded
 * server a `setTimeout` + `clearTimeout` per request cost 8–10 µs of server CPU per request on
 * Node 22 (bench/http-server.bench.ts variants: a bare `node:http` server went from 35 to 44 µs
 * with only that added), far more than the same pair in a tight loop suggests (0.5 µs). Almost
 * every request finishes long before its deadline, so that timer was pure cost. The watch keeps
 * the pending deadlines in a map and one timer armed for the earliest: a request adds itself and
 * removes itself, and the timer is re-armed only when a new deadline is earlier than the armed one
 * (rare: with one timeout for every request, deadlines arrive in order) or when it fires.
 */
import { deadlineError } from './context.js';

type Reject = (error: unknown) => void;

export class DeadlineWatch {
  /** Pending invocations: how to fail each, and when (epoch ms). */
  readonly #pending = new Map<Reject, number>();
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  /**
   * Calls `done` with what `pending` settles to, or `failed` with the deadline error once
   * `deadline` (epoch ms) passes first — exactly one of the two, once. Callbacks rather than a
   * racing promise: one promise fewer per invocation.
   */
  watch<T>(
    pending: Promise<T>,
    deadline: number,
    done: (value: T) => void,
    failed: (error: unknown) => void,
  ): void {
    if (deadline <= Date.now()) {
      failed(deadlineError());
      return;
    }
    this.#add(failed, deadline);
    pending.then(
      (value) => {
        if (this.#remove(failed)) done(value);
      },
      (error: unknown) => {
        if (this.#remove(failed)) failed(error);
      },
    );
  }

  /** Settles like `pending`, or rejects with the deadline error once `deadline` passes first. */
  race<T>(pending: Promise<T>, deadline: number): Promise<T> {
    return new Promise<T>((resolve, reject) => this.watch(pending, deadline, resolve, reject));
  }

  /**
   * Fails every pending invocation now with `error` (a drain's grace period is over); returns how
   * many were pending.
   */
  cutAll(error: unknown): number {
    const pending = [...this.#pending.keys()];
    this.#pending.clear();
    this.#timer?.unref();
    for (const reject of pending) reject(error);
    return pending.length;
  }

  #add(reject: Reject, deadline: number): void {
    this.#pending.set(reject, deadline);
    if (deadline < this.#armedFor) this.#arm(deadline);
    // Ref'd while anything is pending: a handler awaiting only its deadline must keep the process
    // alive, as a per-request timer did.
    else if (this.#pending.size === 1) this.#timer?.ref();
  }

  /** False when the deadline already took this one. */
  #remove(reject: Reject): boolean {
    if (!this.#pending.delete(reject)) return false;
    // Nothing pending: the armed timer must not hold the process open until it fires.
    if (this.#pending.size === 0) this.#timer?.unref();
    return true;
  }

  #arm(deadline: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = deadline;
    this.#timer = setTimeout(() => this.#fire(), Math.max(1, deadline - Date.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const [reject, deadline] of this.#pending) {
      if (deadline <= now) {
        this.#pending.delete(reject);
        reject(deadlineError());
      } else if (deadline < next) {
        next = deadline;
      }
    }
    // Timers may fire a little before Date.now() reaches the deadline: re-arm for what is left.
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
  }
}
