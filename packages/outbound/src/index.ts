/**
 * `@sidecarless/outbound`: the services a function calls, each behind `ctx.upstream(name)` with
 * Istio's policies — a deadline shared with the invocation, retries (`retryOn`, backoff, a retry
 * budget), a circuit breaker and concurrency caps — around any async work (`call()`). HTTP
 * endpoints (`fetch()`: undici pools, mTLS, outlier detection, DNS) need the transport from
 * `@sidecarless/outbound/http` as well, so a function that only wraps SDK calls loads no HTTP
 * client.
 *
 * @example
 * ```ts
 * import { createMesh, json } from '@sidecarless/core';
 * import { invoke } from '@sidecarless/core/local';
 * import { outbound } from '@sidecarless/outbound';
 *
 * const mesh = createMesh(
 *   { service: 'orders', upstreams: { stock: { retries: { attempts: 2 }, circuitBreaker: { consecutiveFailures: 5 }, timeout: '1s' } } },
 *   [outbound],
 * );
 * const response = await invoke(mesh, async (_request, ctx) => {
 *   const stock = await ctx.upstream('stock').call(async ({ signal }) => ({ available: !signal.aborted }));
 *   return json(stock);
 * }, 'http://localhost/orders');
 * ```
 *
 * @packageDocumentation
 */
import type { CallLimiterProvider, Feature } from '@sidecarless/core';
import { installOutbound } from './install.js';
import {
  checkUpstreams,
  type NormalizedUpstream,
  type TrafficChecker,
  type UpstreamOptions,
} from './options.js';

export type { UpstreamCallContext, UpstreamClient } from '@sidecarless/core';
export {
  type FailureKind,
  UpstreamError,
  UpstreamErrorCodes,
  type UpstreamErrorOptions,
} from './errors.js';
export {
  type AttemptEndMessage,
  type AttemptStartMessage,
  type CircuitMessage,
  type EjectionMessage,
  type RequestEndMessage,
  type RetryMessage,
  type TlsReloadMessage,
  UpstreamChannels,
} from './events.js';
export type {
  CircuitBreakerOptions,
  ConnectionPoolOptions,
  OutlierDetectionOptions,
  RetryOptions,
  TlsOptions,
  UpstreamOptions,
  UpstreamSettings,
} from './options.js';

/**
 * The outbound feature: owns the `upstreams` options section. Pass it to
 * `createMesh(options, [outbound])`, with `http` from `@sidecarless/outbound/http` when an
 * upstream has a `url`.
 */
export const outbound: Feature<
  'upstreams',
  Readonly<Record<string, UpstreamOptions>>,
  ReadonlyMap<string, NormalizedUpstream>
> = {
  name: 'outbound',
  section: 'upstreams',
  // New upstreams get new pools; the old ones close once their invocations are done.
  reloadable: true,
  check: (value, _path, issues, host) =>
    value === undefined
      ? undefined
      : checkUpstreams(
          value,
          issues,
          host.feature('http') !== undefined,
          host.feature('traffic') as (Feature & TrafficChecker) | undefined,
          host.feature('rateLimits') as (Feature & CallLimiterProvider) | undefined,
          host.feature('redis') !== undefined,
        ),
  start: (host) => installOutbound(host),
};

// Importing this package adds its section to `MeshOptions`, so option objects typed as
// `MeshOptions` anywhere in the program get completion and checking for it.
declare module '@sidecarless/core' {
  interface MeshOptions {
    /** The services this function calls, by name: `ctx.upstream(name)` (`@sidecarless/outbound`). */
    upstreams?: Readonly<Record<string, UpstreamOptions>>;
  }
}
