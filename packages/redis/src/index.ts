/**
 * `@sidecarless/redis`: state every instance of a function shares, in Redis — the `shared`
 * scope of `@sidecarless/ratelimit` (one limit across the fleet) and circuit breakers one
 * instance opens for all (`circuitBreaker.shared`). One connection per instance, opened at
 * `createMesh` and kept across warm invocations; TLS (`rediss://`) and AUTH/ACL users, as
 * ElastiCache and MemoryDB use them. Every call is bounded by `timeout` (default 5 ms) and a
 * breaker: Redis down or slow never holds an invocation.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { rateLimits } from '@sidecarless/ratelimit';
 * import { redis } from '@sidecarless/redis';
 *
 * const mesh = createMesh(
 *   {
 *     service: 'orders',
 *     redis: { url: 'rediss://orders-cache.internal:6379', username: 'orders', password: { env: 'REDIS_PASSWORD' } },
 *     rateLimits: {
 *       limits: [{ name: 'per-user', descriptor: 'subject', requests: 100, per: 'minute', scope: 'shared' }],
 *     },
 *   },
 *   [rateLimits, redis],
 * );
 * ```
 *
 * @packageDocumentation
 */
import type { Feature, SharedStore, SharedStoreProvider } from '@sidecarless/core';
import { checkRedis, type NormalizedRedis, type RedisOptions } from './options.js';
import { RedisStore } from './store.js';

export type { NormalizedRedis, RedisOptions } from './options.js';
export { RedisStore, StoreUnavailableError, takeScript } from './store.js';

/** The checked section with its store (created unconnected at check, connected at start). */
interface RedisSection {
  readonly config: NormalizedRedis;
  readonly store: RedisStore;
}

/** The redis feature: register it beside the features that share state through it. */
export const redis: Feature<'redis', RedisOptions | undefined, RedisSection> & SharedStoreProvider = {
  name: 'redis',
  section: 'redis',
  check: (value, path, issues, host) => {
    if (value === undefined) return undefined;
    const config = checkRedis(value, path, issues, host.env);
    return config ? { config, store: new RedisStore(config) } : undefined;
  },
  start: (host) => {
    const section = host.section;
    if (!section) return undefined;
    host.whenReady(section.store.connect(host.log));
    host.onClose(() => section.store.close());
    return undefined;
  },
  sharedStore: (section: unknown): SharedStore => (section as RedisSection).store,
};

// Importing this package adds its section to `MeshOptions`.
declare module '@sidecarless/core' {
  interface MeshOptions {
    /** Where shared state lives (`@sidecarless/redis`). */
    redis?: RedisOptions | undefined;
  }
}
