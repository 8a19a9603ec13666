/**
 * Installs the outbound client: one {@link Upstream} per configured name behind
 * `ctx.upstream(name)`, each with the HTTP transport when it has endpoints (the `http` feature
 * supplies it), and closes them on `mesh.close()`. Adds no pipeline stage.
 */
import {
  type CallLimiterProvider,
  ConfigError,
  type FeatureHost,
  type SharedStoreProvider,
  type UpstreamProvider,
} from '@sidecarless/core';
import { unknownUpstream } from '@sidecarless/core/feature';
import type { NormalizedUpstream } from './options.js';
import { SharedCircuit } from './shared-circuit.js';
import { Upstream, type UpstreamRouting, type UpstreamTransport } from './upstream.js';

/** What the `http` feature registers: how to build an upstream's HTTP transport. */
export interface TransportFactory {
  createTransport(upstream: Upstream): UpstreamTransport;
}

/** What the traffic feature (`@sidecarless/outbound/traffic`) provides once upstreams exist. */
export interface TrafficInstaller {
  /** The routing of `upstream`, whose subsets and peers are built. */
  createRouting(
    upstream: Upstream,
    subsets: ReadonlyMap<string, Upstream>,
    upstreams: ReadonlyMap<string, Upstream>,
    /** The traffic feature's own checked section. */
    section: unknown,
    /** This function's service name and version (its default `app` and `version` labels). */
    own: { readonly service: string; readonly version: string | undefined },
  ): UpstreamRouting;
}

export function installOutbound(host: FeatureHost<ReadonlyMap<string, NormalizedUpstream>>): undefined {
  const http = host.feature('http')?.feature as Partial<TransportFactory> | undefined;
  const upstreams = new Map<string, Upstream>();
  const all: Upstream[] = [];
  const build = (config: NormalizedUpstream) => {
    const transport =
      config.endpoints.length > 0 && http?.createTransport ? http.createTransport.bind(http) : undefined;
    const upstream = new Upstream(config, transport);
    all.push(upstream);
    return upstream;
  };
  for (const [name, config] of host.section ?? []) upstreams.set(name, build(config));
  const limits = host.feature('rateLimits')?.feature as Partial<CallLimiterProvider> | undefined;
  const shared = host.feature('redis');
  const storeProvider = shared?.feature as Partial<SharedStoreProvider> | undefined;
  for (const upstream of upstreams.values()) {
    const breaker = upstream.config.circuitBreaker;
    if (breaker?.sharedRefreshMs === undefined || !upstream.breaker) continue;
    if (!storeProvider?.sharedStore || shared?.section === undefined)
      throw new ConfigError([
        {
          path: `upstreams.${upstream.name}.circuitBreaker.shared`,
          message: "needs the redis section; set redis: { url: 'redis://…' }",
        },
      ]);
    upstream.sharedCircuit = new SharedCircuit(
      storeProvider.sharedStore(shared.section),
      `circuit:${host.service}:${upstream.name}`,
      upstream.breaker,
      breaker.halfOpenAfterMs,
      breaker.sharedRefreshMs,
    );
  }
  for (const upstream of upstreams.values())
    if (upstream.config.rateLimit !== undefined && limits?.createCallLimiter)
      upstream.limiter = limits.createCallLimiter(upstream.config.rateLimit, upstream.name, host);
  const registered = host.feature('traffic');
  const traffic = registered?.feature as Partial<TrafficInstaller> | undefined;
  if (traffic?.createRouting) {
    for (const upstream of upstreams.values()) {
      if (upstream.config.traffic === undefined) continue;
      const subsets = new Map<string, Upstream>();
      for (const [subset, config] of upstream.config.subsets) {
        // A quota is the upstream's, whichever version answers: subsets spend the same tokens.
        const built = build(config);
        built.limiter = upstream.limiter;
        subsets.set(subset, built);
      }
      upstream.routing = traffic.createRouting(upstream, subsets, upstreams, registered?.section, {
        service: host.service,
        version: host.version,
      });
    }
  }
  host.onClose(async () => {
    await Promise.all(all.map((upstream) => upstream.close()));
  });
  // DNS endpoints resolve now, at init; the first invocation waits only for that.
  const starting = all.map((upstream) => upstream.start());
  if (starting.length > 0) host.whenReady(Promise.all(starting));
  const provider: UpstreamProvider = {
    client(name, ctx) {
      const upstream = upstreams.get(name);
      if (!upstream) throw unknownUpstream(name);
      return upstream.client(ctx);
    },
  };
  host.provideUpstreams(provider);
  return undefined;
}
