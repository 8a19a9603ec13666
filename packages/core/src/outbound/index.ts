/**
 * The outbound feature, loaded with `import()` only when `upstreams` is configured: undici alone
 * costs 84–112 ms to import (PERF-NOTES), which a function that calls nothing must not pay.
 * It installs the upstream provider on the mesh and closes the pools on `mesh.close()`.
 */
import { unknownUpstream } from '../context.js';
import type { FeatureHost } from '../features.js';
import type { UpstreamProvider } from '../upstream-types.js';
import { Upstream } from './upstream.js';

export { deadlineFromHeader, deadlineHeader } from './deadline-header.js';
export { UpstreamError, UpstreamErrorCodes } from './errors.js';
export { UpstreamChannels } from './events.js';
export { Upstream } from './upstream.js';

/**
 * Builds one {@link Upstream} per configured name and installs them. Adds no pipeline stage.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 *
 * // installOutbound runs inside mesh.ready() because `upstreams` is set:
 * const mesh = createMesh({ service: 'orders', upstreams: { inventory: { endpoints: 'http://127.0.0.1:8080' } } });
 * await mesh.ready();
 * ```
 */
export async function installOutbound(host: FeatureHost): Promise<undefined> {
  const upstreams = new Map<string, Upstream>();
  for (const [name, config] of host.options.upstreams) upstreams.set(name, new Upstream(config));
  host.onClose(async () => {
    await Promise.all([...upstreams.values()].map((upstream) => upstream.close()));
  });
  await Promise.all([...upstreams.values()].map((upstream) => upstream.start()));
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
