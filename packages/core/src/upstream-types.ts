/**
 * The kernel's view of the outbound client. The outbound feature implements it; the kernel and
 * other features only see these types, so nothing loads undici unless upstreams are configured.
 */
import type { MeshContext } from './context.js';

/** What a policy-wrapped call receives. */
export interface UpstreamCallContext {
  /** Aborts when the call's timeout, the invocation deadline or the caller's signal fires. */
  readonly signal: AbortSignal;
  /** Which attempt this is, starting at 1. */
  readonly attempt: number;
}

/** A configured upstream, as handed to handlers by `ctx.upstream(name)`. */
export interface UpstreamClient {
  /** The upstream's configured name. */
  readonly name: string;
  /**
   * Sends an HTTP request through the upstream's policies (deadline, timeout, retries, circuit
   * breaker, pool, TLS) and returns a standard `Response`. `pathOrUrl` is a path relative to the
   * upstream's endpoint, or an absolute URL on it.
   */
  fetch(pathOrUrl: string | URL, init?: RequestInit): Promise<Response>;
  /** Runs any async work (an AWS SDK call, a query) under the same policies. */
  call<T>(work: (call: UpstreamCallContext) => Promise<T>): Promise<T>;
  /**
   * The circuit breaker's state (`undefined` without a breaker), serialisable: save it and pass
   * it back as `circuitBreaker.initialState` to carry the circuit across a cold start.
   */
  circuitState?(): unknown;
}

/** Supplies upstream clients; installed by the outbound feature. */
export interface UpstreamProvider {
  /** The client for `name`, bound to the invocation `ctx` (its deadline and trace), or unbound at init. */
  client(name: string, ctx: MeshContext | undefined): UpstreamClient;
}
