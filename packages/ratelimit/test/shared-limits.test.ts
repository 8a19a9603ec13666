/**
 * Shared limits on a real Redis (Debian's redis-server, started here on 127.0.0.1): one limit
 * for the whole fleet across processes, leases that keep checks off the network, Redis killed
 * mid-run (each failure mode, no hang, recovery when it returns), AUTH with an ACL user, and TLS.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createMesh, json, type Mesh, type MeshOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { redis } from '@sidecarless/redis';
import { telemetry } from '@sidecarless/telemetry';
import { captureLogs, createCa, freePort, type RedisServer, startRedisServer } from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rateLimits } from '../src/index.ts';

const run = promisify(execFile);
let server: RedisServer;
const meshes: Mesh[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
  await run('redis-cli', ['-p', String(server.port), 'FLUSHALL']).catch(() => {});
  await run('redis-cli', ['-p', String(server.port), 'CONFIG', 'RESETSTAT']).catch(() => {});
});

const handler = async () => json({ ok: true });

function sharedMesh(
  limit: Record<string, unknown>,
  extra: Partial<MeshOptions> = {},
  redisSection: Record<string, unknown> = {},
): Mesh {
  const { rateLimits: sectionExtra, ...rest } = extra;
  const mesh = createMesh(
    {
      service: 'orders',
      logging: { level: 'silent' },
      redis: { url: server.url, timeout: '200ms', breaker: { openFor: '200ms' }, ...redisSection },
      rateLimits: {
        limits: [
          { name: 'per-user', descriptor: { header: 'end-user' }, per: 'hour', scope: 'shared', ...limit },
        ],
        ...sectionExtra,
      },
      ...rest,
    } as MeshOptions,
    [telemetry, rateLimits, redis] as never,
  );
  meshes.push(mesh);
  return mesh;
}

async function statuses(mesh: Mesh, count: number, user = 'alice'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const request = new Request('http://localhost/orders', { headers: { 'end-user': user } });
    out.push((await invoke(mesh, handler, request)).status);
  }
  return out;
}

/** How many times Redis ran our script (EVALSHA, or EVAL the first time). */
async function scriptCalls(): Promise<number> {
  const { stdout } = await run('redis-cli', ['-p', String(server.port), 'INFO', 'commandstats']);
  let calls = 0;
  for (const match of stdout.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
}

const fixture = fileURLToPath(new URL('./fixtures/shared-client.mjs', import.meta.url));
function instance(env: Record<string, string>): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture], {
      env: { ...process.env, REDIS_URL: server.url, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`exit ${code}`)),
    );
  });
}

describe('one limit for the fleet', () => {
  it('two instances in two processes share it: N allowed in total, not N each', async () => {
    const [first, second] = await Promise.all([
      instance({ LIMIT: '30', COUNT: '40' }),
      instance({ LIMIT: '30', COUNT: '40' }),
    ]);
    const allowed = [...first!, ...second!].filter((status) => status === 200).length;
    expect(allowed).toBe(30);
    expect([...first!, ...second!].filter((status) => status === 429)).toHaveLength(50);
  }, 30_000);

  it('a burst gets exactly the expected 429s, with the Retry-After Redis computed', async () => {
    const mesh = sharedMesh({ requests: 4, per: 'minute' });
    expect(await statuses(mesh, 7)).toEqual([200, 200, 200, 200, 429, 429, 429]);
    const refused = await invoke(
      mesh,
      handler,
      new Request('http://localhost/orders', { headers: { 'end-user': 'alice' } }),
    );
    // 4 per minute: one token every 15 s.
    expect(refused.headers.get('retry-after')).toBe('15');
    expect(refused.headers.get('ratelimit-policy')).toBe('"per-user";q=4;w=60');
    // The header's value (it could be an API key) is not a key in Redis; its hash is.
    const { stdout } = await run('redis-cli', ['-p', String(server.port), 'KEYS', '*']);
    expect(stdout).toMatch(/^sidecarless:rl:orders:per-user:[\w-]{22}$/m);
    expect(stdout).not.toContain('alice');
  });

  it('with a lease of 10, nine checks in ten never reach Redis, and the limit still holds', async () => {
    const mesh = sharedMesh({ requests: 100, lease: 10 });
    expect((await statuses(mesh, 100)).every((status) => status === 200)).toBe(true);
    expect(await scriptCalls()).toBe(10);
    expect(await statuses(mesh, 5)).toEqual([429, 429, 429, 429, 429]);
  });
});

describe('Redis down', () => {
  it('failure mode open: the local bucket decides, no call waits past the budget, and Redis is used again once back', async () => {
    const logs = captureLogs();
    const port = await freePort();
    const mesh = sharedMesh(
      { requests: 3 },
      {
        logging: { destination: logs.destination },
        telemetry: { metrics: { exporter: 'prometheus', port }, logging: { accessLog: false } },
      },
      { timeout: '20ms' },
    );
    await mesh.ready();
    expect(await statuses(mesh, 2)).toEqual([200, 200]);
    await server.kill();
    const started = performance.now();
    // The local fallback bucket (3 per hour, full) answers: 3 allowed, then refused.
    const during = await statuses(mesh, 5);
    const elapsed = performance.now() - started;
    expect(during).toEqual([200, 200, 200, 429, 429]);
    // Five checks with Redis gone: each bounded by the 20 ms budget, most refused at once by the breaker.
    expect(elapsed).toBeLessThan(5 * 20 + 100);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain(
      'serverless_rate_limit_store_failures_total{function="orders",failure_mode="open"} 5\n',
    );
    const opened = logs.lines().filter((line) => String(line.msg).startsWith('Redis is not answering'));
    expect(opened).toHaveLength(1);

    await server.restart();
    // ioredis reconnects in the background; the breaker lets a call through after 200 ms.
    const until = Date.now() + 5_000;
    while (Date.now() < until && (await scriptCalls().catch(() => 0)) === 0) {
      await statuses(mesh, 1, 'bob');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await scriptCalls()).toBeGreaterThan(0);
    // Redis lost alice's bucket with the restart: the fleet's bucket starts full again.
    expect(await statuses(mesh, 4)).toEqual([200, 200, 200, 429]);
    expect(logs.lines().some((line) => String(line.msg).startsWith('Redis answers again'))).toBe(true);
  }, 20_000);

  it('failure mode closed: refused with 503 and Retry-After, quickly', async () => {
    const mesh = sharedMesh({ requests: 3 }, { rateLimits: { failureMode: 'closed' } } as never, {
      timeout: '20ms',
    });
    await mesh.ready();
    expect(await statuses(mesh, 1)).toEqual([200]);
    await server.kill();
    try {
      const started = performance.now();
      const response = await invoke(
        mesh,
        handler,
        new Request('http://localhost/orders', { headers: { 'end-user': 'alice' } }),
      );
      expect(performance.now() - started).toBeLessThan(100);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(await response.json()).toMatchObject({ code: 'SCL_ERR_RATE_LIMIT_UNAVAILABLE' });
    } finally {
      await server.restart();
    }
  });
});

describe('AUTH, ACL users and TLS', () => {
  it('connects as an ACL user with the password from the environment, and never logs it', async () => {
    const secured = await startRedisServer({
      password: 'admin-secret-0001',
      users: [{ name: 'orders', password: 'orders-secret-0002' }],
    });
    const logs = captureLogs();
    try {
      process.env.TEST_REDIS_PASSWORD = 'orders-secret-0002';
      const mesh = createMesh(
        {
          service: 'orders',
          logging: { destination: logs.destination, level: 'debug' },
          redis: {
            url: `redis://orders@127.0.0.1:${secured.port}`,
            password: { env: 'TEST_REDIS_PASSWORD' },
            timeout: '200ms',
          },
          rateLimits: {
            failureMode: 'closed',
            limits: [{ name: 'all', descriptor: 'global', requests: 2, per: 'hour', scope: 'shared' }],
          },
        },
        [rateLimits, redis],
      );
      meshes.push(mesh);
      expect(await statuses(mesh, 3)).toEqual([200, 200, 429]);

      // A wrong password: the connection is refused, the failure mode decides, the password is not in any line.
      process.env.TEST_REDIS_PASSWORD = 'wrong-password-0003';
      const wrong = createMesh(
        {
          service: 'orders',
          logging: { destination: logs.destination, level: 'debug' },
          redis: {
            url: `redis://orders@127.0.0.1:${secured.port}`,
            password: { env: 'TEST_REDIS_PASSWORD' },
            timeout: '200ms',
          },
          rateLimits: {
            failureMode: 'closed',
            limits: [{ name: 'all', descriptor: 'global', requests: 2, per: 'hour', scope: 'shared' }],
          },
        },
        [rateLimits, redis],
      );
      meshes.push(wrong);
      expect(await statuses(wrong, 1)).toEqual([503]);
      const all = logs.raw.join('');
      expect(all).not.toContain('orders-secret-0002');
      expect(all).not.toContain('wrong-password-0003');
    } finally {
      delete process.env.TEST_REDIS_PASSWORD;
      await secured.close();
    }
  });

  it('speaks TLS to rediss:// with a private CA', async () => {
    const ca = await createCa();
    const certificate = await ca.issue({ ipAddresses: ['127.0.0.1'] });
    const tls = await startRedisServer({
      tls: { cert: certificate.cert, key: certificate.key, ca: ca.cert },
    });
    try {
      const mesh = createMesh(
        {
          service: 'orders',
          logging: { level: 'silent' },
          redis: { url: tls.url, tls: { ca: ca.cert }, timeout: '200ms' },
          rateLimits: {
            failureMode: 'closed',
            limits: [{ name: 'all', descriptor: 'global', requests: 1, per: 'hour', scope: 'shared' }],
          },
        },
        [rateLimits, redis],
      );
      meshes.push(mesh);
      expect(await statuses(mesh, 2)).toEqual([200, 429]);
    } finally {
      await tls.close();
    }
  });
});

describe('bad redis configuration', () => {
  it('refuses a password in the URL without echoing it', () => {
    let message = '';
    try {
      createMesh({ service: 'orders', redis: { url: 'redis://orders:hunter2-secret@cache:6379' } }, [redis]);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(
      /redis\.url: carries a password in plain text \(redis:\/\/orders:\*\*\*@cache:6379\); remove it from the URL and give it as redis\.password: \{ env: "REDIS_PASSWORD" \}/,
    );
    expect(message).not.toContain('hunter2');
  });

  it('names a missing password variable, a wrong scheme, and TLS options on redis://', () => {
    expect(() =>
      createMesh(
        { service: 'orders', redis: { url: 'redis://cache:6379', password: { env: 'NOT_SET_ANYWHERE' } } },
        [redis],
      ),
    ).toThrow(/redis\.password\.env: names NOT_SET_ANYWHERE, which is not set/);
    expect(() => createMesh({ service: 'orders', redis: { url: 'http://cache:6379' } }, [redis])).toThrow(
      /redis\.url: has the scheme "http:"; use redis:\/\/ or rediss:\/\//,
    );
    expect(() =>
      createMesh({ service: 'orders', redis: { url: 'redis://cache:6379', tls: {} } }, [redis]),
    ).toThrow(/redis\.tls: is set but the URL is redis:\/\/; use rediss:\/\//);
  });

  it('refuses a shared limit when the redis feature is registered without its section', () => {
    expect(() =>
      createMesh(
        {
          service: 'orders',
          rateLimits: {
            limits: [{ name: 'a', descriptor: 'global', requests: 1, per: 'hour', scope: 'shared' }],
          },
        },
        [rateLimits, redis],
      ),
    ).toThrow(/redis: is missing; rateLimits with scope "shared" needs shared state/);
  });
});
