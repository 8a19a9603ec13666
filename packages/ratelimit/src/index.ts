/**
 * `@sidecarless/ratelimit`: rate limits for a function's callers, in Envoy's and Linkerd's
 * vocabulary — per verified subject or claim, per mTLS peer, per client address, per header, per
 * route or global; token buckets local to the instance or shared by every instance through
 * Redis (`@sidecarless/redis`); per-identity overrides, a shadow mode, and an in-flight cap that
 * sheds load on the container platforms. A request over a limit gets `429` with `Retry-After`
 * and the IETF `RateLimit-Policy`/`RateLimit` fields, before the handler runs and after
 * authentication.
 *
 * @example
 * ```ts
 * import { createMesh, json } from '@sidecarless/core';
 * import { invoke } from '@sidecarless/core/local';
 * import { rateLimits } from '@sidecarless/ratelimit';
 *
 * const mesh = createMesh(
 *   {
 *     service: 'orders',
 *     rateLimits: { limits: [{ name: 'per-client', descriptor: 'clientAddress', requests: 2, per: 'minute' }] },
 *   },
 *   [rateLimits],
 * );
 * const handler = async () => json({ ok: true });
 * for (let i = 0; i < 3; i++) {
 *   const response = await invoke(mesh, handler, 'http://localhost/orders', { sourceIp: '203.0.113.7' });
 *   console.log(response.status, response.headers.get('retry-after')); // 200 null, 200 null, 429 "30"
 * }
 * ```
 *
 * @packageDocumentation
 */
import {
  type CallLimiterProvider,
  ConfigError,
  type Feature,
  type SharedStoreProvider,
} from '@sidecarless/core';
import { checkCallLimit, createCallLimiter } from './call-limiter.js';
import {
  checkRateLimits,
  type NormalizedRateLimits,
  type RateLimitsOptions,
  usesSharedScope,
} from './options.js';
import { RateLimitStage } from './stage.js';

export type { Verdict } from './buckets.js';
export { LocalBuckets } from './buckets.js';
export type { CallLimitOptions } from './call-limiter.js';
export { UpstreamRateLimitedError } from './call-limiter.js';
export type {
  DescriptorOptions,
  LimitOverride,
  LimitSize,
  RateLimitOptions,
  RateLimitsOptions,
  TokenBucketOptions,
} from './options.js';

const redisImport =
  "needs shared state: add import { redis } from '@sidecarless/redis', pass it to createMesh and set redis: { url: 'redis://…' }";

/** The rate-limit feature. */
export const rateLimits: Feature<'rateLimits', RateLimitsOptions | undefined, NormalizedRateLimits> &
  CallLimiterProvider = {
  name: 'rateLimits',
  section: 'rateLimits',
  check: (value, path, issues, host) => {
    if (value === undefined) return undefined;
    const checked = checkRateLimits(value, path, issues);
    if (checked && usesSharedScope(checked) && host.feature('redis') === undefined) {
      checked.limits.forEach((limit, index) => {
        if (limit.scope === 'shared') issues.add(`${path}.limits[${index}].scope`, `"shared" ${redisImport}`);
      });
    }
    return checked;
  },
  start: (host) => {
    const section = host.section;
    if (!section) return undefined;
    let store: ReturnType<SharedStoreProvider['sharedStore']> | undefined;
    if (usesSharedScope(section)) {
      const registered = host.feature('redis');
      const provider = registered?.feature as Partial<SharedStoreProvider> | undefined;
      if (!provider?.sharedStore || registered?.section === undefined)
        throw new ConfigError([
          { path: 'redis', message: `is missing; rateLimits with scope "shared" ${redisImport}` },
        ]);
      store = provider.sharedStore(registered.section);
    }
    return new RateLimitStage(section, host.service, store);
  },
  checkCallLimit,
  createCallLimiter,
};

// Importing this package adds its section to `MeshOptions`.
declare module '@sidecarless/core' {
  interface MeshOptions {
    /** Rate limits and the in-flight cap (`@sidecarless/ratelimit`). */
    rateLimits?: RateLimitsOptions | undefined;
  }
}
