/**
 * `@sidecarless/outbound/http`: the HTTP transport for upstreams with a `url` or `endpoints` —
 * undici pools per endpoint, client TLS and mTLS (never a plaintext fallback), outlier
 * detection, DNS resolution, and `ctx.upstream(name).fetch()` answering a standard `Response`.
 * Its own entry point so that a function using upstreams through `call()` alone bundles and
 * loads none of it.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { outbound } from '@sidecarless/outbound';
 * import { http } from '@sidecarless/outbound/http';
 *
 * const mesh = createMesh(
 *   { service: 'orders', upstreams: { inventory: { url: 'http://127.0.0.1:8080', retries: { attempts: 2 } } } },
 *   [outbound, http],
 * );
 * ```
 *
 * @packageDocumentation
 */
import type { Feature } from '@sidecarless/core';
import { HttpTransport } from './http/http-transport.js';
import type { TransportFactory } from './install.js';
import type { Upstream } from './upstream.js';

/** The HTTP transport, as a feature with no options section of its own (it serves `upstreams`). */
export const http: Feature<never, never, undefined> & TransportFactory = {
  name: 'http',
  createTransport: (upstream: Upstream) => new HttpTransport(upstream),
  start: () => undefined,
};
