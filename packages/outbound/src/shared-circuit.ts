/**
 * A circuit shared by every instance (`circuitBreaker.shared`), through the shared store
 * (`@sidecarless/redis`). When this instance's breaker opens it writes until when the circuit is
 * open; every instance reads that at most once per refresh interval and, while it lies ahead,
 * holds its own breaker isolated (cockatiel's `isolate()`): calls fail fast with the same
 * `SCL_ERR_CIRCUIT_OPEN` as a local open circuit. A store that does not answer changes
 * nothing: each instance then keeps its own breaker, as without sharing.
 */
import type { SharedStore } from '@sidecarless/core';
import { type CircuitBreakerPolicy, CircuitState } from 'cockatiel';

export class SharedCircuit {
  readonly #store: SharedStore;
  readonly #key: string;
  readonly #breaker: CircuitBreakerPolicy;
  readonly #openForMs: number;
  readonly #refreshMs: number;
  #readAt = Number.NEGATIVE_INFINITY;
  #isolation: { dispose(): void } | undefined;
  #isolatedUntil = 0;

  constructor(
    store: SharedStore,
    key: string,
    breaker: CircuitBreakerPolicy,
    openForMs: number,
    refreshMs: number,
  ) {
    this.#store = store;
    this.#key = key;
    this.#breaker = breaker;
    this.#openForMs = openForMs;
    this.#refreshMs = refreshMs;
  }

  /** This instance's breaker opened: every instance's circuit is open for `halfOpenAfter`. */
  opened(): void {
    const until = Date.now() + this.#openForMs;
    this.#store.set(this.#key, String(until), this.#openForMs).catch(() => {});
  }

  /** This instance's trial call succeeded: the others may stop failing fast at their next read. */
  closed(): void {
    this.#store.set(this.#key, '0', this.#openForMs).catch(() => {});
  }

  /**
   * Brings the isolation up to date before an attempt. Undefined (nothing to wait for) between
   * reads; at most once per refresh interval a read, bounded by the store's timeout.
   */
  sync(): Promise<void> | undefined {
    const now = Date.now();
    if (this.#isolation && now >= this.#isolatedUntil) this.#release();
    if (now - this.#readAt < this.#refreshMs) return undefined;
    this.#readAt = now;
    return this.#store.get(this.#key).then(
      (value) => this.#apply(value === undefined ? 0 : Number(value)),
      () => {},
    );
  }

  #apply(until: number): void {
    if (!(until > Date.now())) {
      this.#release();
      return;
    }
    this.#isolatedUntil = until;
    // This instance's own breaker already open (it wrote the value) needs no isolation.
    if (this.#isolation === undefined && this.#breaker.state !== CircuitState.Open)
      this.#isolation = this.#breaker.isolate();
  }

  #release(): void {
    const isolation = this.#isolation;
    this.#isolation = undefined;
    isolation?.dispose();
  }
}
