/**
 * Installs the outbound client: one {@link Upstream} per configured name behind
 * `ctx.upstream(name)`, each with the HTTP transport when it has endpoints (the `http` feature
 * supplies it), and closes them on `mesh.close()`. Adds no pipeline stage.
 */
import type { FeatureHost, UpstreamProvider } from '@sidecarless/core';
import { unknownUpstream } from '@sidecarless/core/feature';
import type { NormalizedUpstream } from './options.js';
import { Upstream, type UpstreamTransport } from './upstream.js';

/** What the `http` feature registers: how to build an upstream's HTTP transport. */
export interface TransportFactory {
  createTransport(upstream: Upstream): UpstreamTransport;
}

export function installOutbound(host: FeatureHost<ReadonlyMap<string, NormalizedUpstream>>): undefined {
  const http = host.feature('http')?.feature as Partial<TransportFactory> | undefined;
  const upstreams = new Map<string, Upstream>();
  for (const [name, config] of host.section ?? []) {
    const transport =
      config.endpoints.length > 0 && http?.createTransport ? http.createTransport.bind(http) : undefined;
    upstreams.set(name, new Upstream(config, transport));
  }
  host.onClose(async () => {
    await Promise.all([...upstreams.values()].map((upstream) => upstream.close()));
  });
  // DNS endpoints resolve now, at init; the first invocation waits only for that.
  const starting = [...upstreams.values()].map((upstream) => upstream.start());
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
