/**
 * A circuit breaker shared through a real Redis: an upstream that one instance saw fail opens
 * for another instance — a separate process started afterwards, as a cold start would be — and
 * closes for it once `halfOpenAfter` has passed.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, createMesh } from '@sidecarless/core';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import {
  createUpstreamServer,
  type RedisServer,
  startRedisServer,
  type UpstreamServer,
} from '@sidecarless/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

let store: RedisServer;
let payments: UpstreamServer;
beforeAll(async () => {
  store = await startRedisServer();
  payments = await createUpstreamServer({ name: 'payments' });
});
afterAll(async () => {
  await store.close();
  await payments.close();
});

const fixture = fileURLToPath(new URL('./fixtures/circuit-client.mjs', import.meta.url));
function instance(env: Record<string, string>): Promise<(number | string)[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture], {
      env: { ...process.env, REDIS_URL: store.url, UPSTREAM_URL: payments.url, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}`))));
  });
}

it('opens for every instance when one instance sees the upstream fail, and closes after halfOpenAfter', async () => {
  payments.fallback = { status: 503 };
  // Instance A: two 503s open its breaker; the third call fails fast.
  expect(await instance({ CALLS: '3', HALF_OPEN_AFTER: '1500ms' })).toEqual([
    503,
    503,
    'SCL_ERR_CIRCUIT_OPEN',
  ]);
  expect(payments.requests).toHaveLength(2);
  // The upstream recovers, but instance B — a new process — fails fast without calling it.
  payments.fallback = { status: 200 };
  expect(await instance({ CALLS: '2', HALF_OPEN_AFTER: '1500ms' })).toEqual([
    'SCL_ERR_CIRCUIT_OPEN',
    'SCL_ERR_CIRCUIT_OPEN',
  ]);
  expect(payments.requests).toHaveLength(2);
  // Once halfOpenAfter has passed, the shared open state has expired: B calls again.
  await new Promise((resolve) => setTimeout(resolve, 1_600));
  expect(await instance({ CALLS: '2', HALF_OPEN_AFTER: '1500ms' })).toEqual([200, 200]);
  expect(payments.requests).toHaveLength(4);
}, 30_000);

it('refuses circuitBreaker.shared without the redis feature', () => {
  expect(() =>
    createMesh(
      {
        service: 'orders',
        upstreams: { payments: { url: payments.url, circuitBreaker: { shared: true } } },
      },
      [outbound, http],
    ),
  ).toThrow(ConfigError);
  expect(() =>
    createMesh(
      { service: 'orders', upstreams: { payments: { url: payments.url, circuitBreaker: { shared: true } } } },
      [outbound, http],
    ),
  ).toThrow(/upstreams\.payments\.circuitBreaker\.shared: needs shared state, which is not registered/);
});
