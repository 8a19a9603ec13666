/**
 * Limits on outbound calls (`upstreams.<name>.rateLimit`), through the real outbound client and
 * HTTP transport to a real server on 127.0.0.1: fail fast, wait for a token, give up at the
 * deadline, and one quota for two meshes sharing a real Redis.
 */
import { ConfigError, createMesh, type Mesh, type MeshOptions } from '@sidecarless/core';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { redis } from '@sidecarless/redis';
import {
  createUpstreamServer,
  type RedisServer,
  startRedisServer,
  type UpstreamServer,
} from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rateLimits, UpstreamRateLimitedError } from '../src/index.ts';

let partner: UpstreamServer;
let store: RedisServer;
const meshes: Mesh[] = [];
beforeAll(async () => {
  partner = await createUpstreamServer({ name: 'partner' });
  store = await startRedisServer();
});
afterAll(async () => {
  await partner.close();
  await store.close();
});
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
  partner.requests.length = 0;
});

function meshWith(rateLimit: Record<string, unknown>, extra: Partial<MeshOptions> = {}): Mesh {
  const mesh = createMesh(
    {
      service: 'orders',
      logging: { level: 'silent' },
      upstreams: { partner: { url: partner.url, retries: { attempts: 0 }, rateLimit } },
      ...extra,
    } as MeshOptions,
    [outbound, http, rateLimits, redis] as never,
  );
  meshes.push(mesh);
  return mesh;
}

async function outcomes(mesh: Mesh, count: number): Promise<(number | string)[]> {
  const out: (number | string)[] = [];
  for (let i = 0; i < count; i++) {
    try {
      const response = await mesh.upstream('partner').fetch('/quote');
      await response.arrayBuffer();
      out.push(response.status);
    } catch (error) {
      out.push((error as { code: string }).code);
    }
  }
  return out;
}

describe('an upstream with a quota', () => {
  it('fails fast past it with wait: false, and the partner never sees the calls over it', async () => {
    const mesh = meshWith({ requests: 3, per: 'minute', wait: false });
    expect(await outcomes(mesh, 5)).toEqual([
      200,
      200,
      200,
      'SCL_ERR_UPSTREAM_RATE_LIMITED',
      'SCL_ERR_UPSTREAM_RATE_LIMITED',
    ]);
    expect(partner.requests).toHaveLength(3);
    const error = await mesh
      .upstream('partner')
      .fetch('/quote')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UpstreamRateLimitedError);
    expect((error as Error).message).toMatch(
      /calls to upstream "partner" are over its rate limit \(3 per 60 s\); wait is false; the next token is \d+ ms away/,
    );
  });

  it('waits for a token within the deadline', async () => {
    // 2 per 200 ms: a token every 100 ms once the burst of 2 is spent.
    const mesh = meshWith({ requests: 2, per: '200ms' });
    const started = performance.now();
    expect(await outcomes(mesh, 5)).toEqual([200, 200, 200, 200, 200]);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1_500);
  });

  it('gives up when the next token comes after the deadline', async () => {
    const short = createMesh(
      {
        service: 'orders',
        logging: { level: 'silent' },
        upstreams: {
          partner: { url: partner.url, timeout: '500ms', rateLimit: { requests: 1, per: 'minute' } },
        },
      } as MeshOptions,
      [outbound, http, rateLimits],
    );
    meshes.push(short);
    const started = performance.now();
    expect(await outcomes(short, 2)).toEqual([200, 'SCL_ERR_UPSTREAM_RATE_LIMITED']);
    // It did not sleep a minute, nor the 500 ms timeout: the token is past the deadline, so it fails now.
    expect(performance.now() - started).toBeLessThan(400);
  });

  it('shares one quota between two meshes through Redis', async () => {
    const shared = { requests: 4, per: 'minute', scope: 'shared', wait: false };
    const section = { redis: { url: store.url, timeout: '200ms' } };
    const first = meshWith(shared, section);
    const second = meshWith(shared, section);
    await Promise.all([first.ready(), second.ready()]);
    const answers = [...(await outcomes(first, 3)), ...(await outcomes(second, 3))];
    expect(answers.filter((answer) => answer === 200)).toHaveLength(4);
    expect(answers.filter((answer) => answer === 'SCL_ERR_UPSTREAM_RATE_LIMITED')).toHaveLength(2);
  });

  it('refuses a rateLimit without the feature, and a shared one without Redis', () => {
    expect(() =>
      createMesh(
        {
          service: 'orders',
          upstreams: { partner: { url: partner.url, rateLimit: { requests: 1, per: 'second' } } },
        },
        [outbound, http],
      ),
    ).toThrow(/upstreams\.partner\.rateLimit: needs the rate-limit feature, which is not registered/);
    expect(() =>
      createMesh(
        {
          service: 'orders',
          upstreams: { partner: { url: partner.url, rateLimit: { requests: 0, per: 'second' } } },
        } as MeshOptions,
        [outbound, http, rateLimits],
      ),
    ).toThrow(/upstreams\.partner\.rateLimit\.requests: 0 is not a limit/);
    expect(() =>
      createMesh(
        {
          service: 'orders',
          upstreams: {
            partner: { url: partner.url, rateLimit: { requests: 1, per: 'second', scope: 'shared' } },
          },
        } as MeshOptions,
        [outbound, http, rateLimits],
      ),
    ).toThrow(ConfigError);
  });
});
