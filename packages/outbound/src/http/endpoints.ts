/**
 * The endpoints of one upstream: a keep-alive pool each, load balancing, outlier detection, and
 * DNS discovery. Everything here lives on the upstream (and so on the mesh instance).
 */
import { nodeBuiltin } from '@sidecarless/core/feature';
import type { Pool } from 'undici';
import { ejectionChannel } from '../events.js';
import type { NormalizedUpstream } from '../options.js';

const { lookup, Resolver } = nodeBuiltin('node:dns/promises');
const { isIP } = nodeBuiltin('node:net');

/** One address the upstream is reached at. */
export interface Endpoint {
  /** `scheme://address:port`, what the pool connects to. */
  readonly origin: string;
  readonly pool: Pool;
  /** Requests in flight (LEAST_REQUEST reads it). */
  active: number;
  consecutive5xx: number;
  consecutiveGateway: number;
  /** Epoch ms until which it receives no traffic. */
  ejectedUntil: number;
  /** Times ejected; the next ejection lasts `baseEjectionTime × (ejections + 1)`. */
  ejections: number;
  /** Last time the ejection multiplier was decayed or raised. */
  multiplierAt: number;
}

/** How an attempt ended, for outlier detection. */
export type EndpointOutcome = 'success' | 'server-error' | 'gateway-error';

export type PoolFactory = (origin: string, expectedHost: string) => Pool;

const defaultDnsTtlMs = 30_000;

/** Balances over the endpoints of one upstream and ejects the failing ones. */
export class EndpointSet {
  readonly #config: NormalizedUpstream;
  readonly #createPool: PoolFactory;
  /** Counts the ejection in metrics (telemetry), when it is on. */
  readonly #onEjection: () => void;
  #endpoints: Endpoint[] = [];
  #next = 0;
  #dnsExpiresAt = Number.POSITIVE_INFINITY;
  #refreshing: Promise<void> | undefined;

  constructor(config: NormalizedUpstream, createPool: PoolFactory, onEjection: () => void = () => {}) {
    this.#config = config;
    this.#createPool = createPool;
    this.#onEjection = onEjection;
    if (config.resolution === 'NONE')
      this.#endpoints = config.endpoints.map((url) => this.#endpoint(url.origin, url.hostname));
  }

  /** The endpoints currently known. */
  get all(): readonly Endpoint[] {
    return this.#endpoints;
  }

  /** Resolves DNS endpoints the first time (awaited at `mesh.ready()`). */
  async start(): Promise<void> {
    if (this.#config.resolution === 'DNS') await this.#refresh();
  }

  /** Picks the endpoint for the next attempt, skipping ejected ones. */
  pick(now: number): Endpoint | undefined {
    if (now >= this.#dnsExpiresAt && !this.#refreshing) {
      // Refresh in the background; this request uses the addresses we have.
      this.#refreshing = this.#refresh().finally(() => {
        this.#refreshing = undefined;
      });
      this.#refreshing.catch(() => {});
    }
    const endpoints = this.#endpoints;
    if (endpoints.length <= 1) return endpoints[0];
    const candidates = this.#config.outlierDetection ? this.#healthy(endpoints, now) : endpoints;
    switch (this.#config.loadBalancer) {
      case 'RANDOM':
        return candidates[Math.floor(Math.random() * candidates.length)];
      case 'LEAST_REQUEST': {
        // Power of two choices: nearly as good as scanning all, O(1), and no herd on one endpoint.
        // The two are distinct, so with two endpoints it is an exact least-request pick.
        const n = candidates.length;
        const first = Math.floor(Math.random() * n);
        const a = candidates[first]!;
        const b = candidates[(first + 1 + Math.floor(Math.random() * (n - 1))) % n]!;
        return b.active < a.active ? b : a;
      }
      default:
        this.#next = (this.#next + 1) % candidates.length;
        return candidates[this.#next];
    }
  }

  /** Records how an attempt on `endpoint` ended; ejects it when it keeps failing. */
  record(endpoint: Endpoint, outcome: EndpointOutcome, now: number): void {
    const outlier = this.#config.outlierDetection;
    if (!outlier) return;
    if (outcome === 'success') {
      endpoint.consecutive5xx = 0;
      endpoint.consecutiveGateway = 0;
      // Istio: the multiplier decays by one per healthy interval after an ejection ends.
      if (
        endpoint.ejections > 0 &&
        now >= endpoint.ejectedUntil &&
        now - endpoint.multiplierAt >= outlier.intervalMs
      ) {
        endpoint.ejections--;
        endpoint.multiplierAt = now;
      }
      return;
    }
    endpoint.consecutive5xx++;
    if (outcome === 'gateway-error') endpoint.consecutiveGateway++;
    else endpoint.consecutiveGateway = 0;
    const tripped =
      (outlier.consecutive5xxErrors !== undefined &&
        endpoint.consecutive5xx >= outlier.consecutive5xxErrors) ||
      (outlier.consecutiveGatewayErrors !== undefined &&
        endpoint.consecutiveGateway >= outlier.consecutiveGatewayErrors);
    if (!tripped || now < endpoint.ejectedUntil) return;
    const ejected = this.#endpoints.filter((e) => now < e.ejectedUntil).length;
    // Envoy ejects at least one host even when the percentage rounds down to zero.
    const maxEjected =
      outlier.maxEjectionPercent === 0
        ? 0
        : Math.max(1, Math.floor((this.#endpoints.length * outlier.maxEjectionPercent) / 100));
    if (ejected >= maxEjected) return;
    endpoint.ejections++;
    endpoint.multiplierAt = now;
    const ejectedForMs = outlier.baseEjectionTimeMs * endpoint.ejections;
    endpoint.ejectedUntil = now + ejectedForMs;
    endpoint.consecutive5xx = 0;
    endpoint.consecutiveGateway = 0;
    this.#onEjection();
    if (ejectionChannel.hasSubscribers)
      ejectionChannel.publish({
        upstream: this.#config.name,
        endpoint: endpoint.origin,
        ejectedForMs,
        ejections: endpoint.ejections,
      });
  }

  /** Closes every pool (on `mesh.close()`). */
  async close(): Promise<void> {
    const endpoints = this.#endpoints;
    this.#endpoints = [];
    await Promise.all(endpoints.map((endpoint) => endpoint.pool.close()));
  }

  #healthy(endpoints: Endpoint[], now: number): Endpoint[] {
    const healthy = endpoints.filter((endpoint) => now >= endpoint.ejectedUntil);
    const minHealthy = this.#config.outlierDetection!.minHealthPercent;
    // Below minHealthPercent (or with everything ejected) detection stands aside: some traffic
    // to a doubtful endpoint beats none at all (Istio's panic behaviour).
    if (healthy.length === 0 || (healthy.length * 100) / endpoints.length < minHealthy) return endpoints;
    return healthy;
  }

  #endpoint(origin: string, expectedHost: string): Endpoint {
    return {
      origin,
      pool: this.#createPool(origin, expectedHost),
      active: 0,
      consecutive5xx: 0,
      consecutiveGateway: 0,
      ejectedUntil: 0,
      ejections: 0,
      multiplierAt: 0,
    };
  }

  async #refresh(): Promise<void> {
    const url = this.#config.endpoints[0]!;
    const { addresses, ttlMs } = await resolveAll(url.hostname);
    const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
    const wanted = addresses.map(
      (address) => `${url.protocol}//${isIP(address) === 6 ? `[${address}]` : address}:${port}`,
    );
    const keep = this.#endpoints.filter((endpoint) => wanted.includes(endpoint.origin));
    const gone = this.#endpoints.filter((endpoint) => !wanted.includes(endpoint.origin));
    const added = wanted
      .filter((origin) => !keep.some((endpoint) => endpoint.origin === origin))
      .map((origin) => this.#endpoint(origin, url.hostname));
    this.#endpoints = [...keep, ...added];
    this.#dnsExpiresAt = Date.now() + ttlMs;
    // Requests already on a removed address finish; close() waits for them.
    for (const endpoint of gone) endpoint.pool.close().catch(() => {});
  }
}

/**
 * All addresses of `host`, with the shortest TTL of its records. DNS first (it knows TTLs); names
 * only the system resolver knows (`/etc/hosts`, `localhost`) fall back to `lookup` with a 30 s refresh.
 */
export async function resolveAll(host: string): Promise<{ addresses: string[]; ttlMs: number }> {
  if (isIP(host)) return { addresses: [host], ttlMs: Number.POSITIVE_INFINITY };
  const resolver = new Resolver({ timeout: 2_000, tries: 2 });
  const [v4, v6] = await Promise.allSettled([
    resolver.resolve4(host, { ttl: true }),
    resolver.resolve6(host, { ttl: true }),
  ]);
  const records = [
    ...(v4.status === 'fulfilled' ? v4.value : []),
    ...(v6.status === 'fulfilled' ? v6.value : []),
  ];
  if (records.length > 0) {
    const ttl = Math.max(1, Math.min(...records.map((record) => record.ttl)));
    return { addresses: records.map((record) => record.address), ttlMs: ttl * 1000 };
  }
  const found = await lookup(host, { all: true });
  return { addresses: [...new Set(found.map((entry) => entry.address))], ttlMs: defaultDnsTtlMs };
}
