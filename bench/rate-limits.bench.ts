/**
 * What rate limits cost.
 *
 * 1. A local check: one token taken from an in-instance bucket — one key, and 1,000 keys in turn.
 * 2. A Lambda invocation (API Gateway v2, JSON in and out) without limits, with a local
 *    `clientAddress` limit, and with a local limit plus a `global` one — interleaved rounds.
 * 3. A shared check (one EVALSHA on a real Redis on 127.0.0.1) against a bare `GET` round trip
 *    to the same Redis with the same client: p50 of each, interleaved.
 * 4. A shared limit with a lease of 10 at 1,000 requests/s: the share of checks answered without
 *    a round trip, counted by Redis itself (`INFO commandstats`).
 * 5. What the Redis client costs to load: ioredis bundled (esbuild, minified CJS) and from
 *    `node_modules`, in a fresh process.
 *
 * Needs `redis-server` on PATH (`bash scripts/setup-system.sh --tests`). Run: `node --expose-gc
 * bench/rate-limits.bench.ts` after `pnpm build`.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createMesh, json } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { lambda } from '@sidecarless/lambda';
import { LocalBuckets, rateLimits } from '@sidecarless/ratelimit';
import { RedisStore, redis } from '@sidecarless/redis';
import { build } from 'esbuild';
import { Redis } from 'ioredis';
import { lambdaContext as context, apiGatewayV2Event as event } from './api-gateway-event.ts';
import { compare, deployedBundle, median, percentile, printComparison, printTable } from './lib.ts';

const run = promisify(execFile);

// --- 1. the local check ----------------------------------------------------------------------------

const bucket = { maxTokens: 1e12, tokensPerFill: 1e12, fillIntervalMs: 1_000 };
const one = new LocalBuckets(10_000);
const many = new LocalBuckets(10_000);
const keys = Array.from({ length: 1_000 }, (_, i) => `203.0.113.${i % 250}:${i}`);
let next = 0;
printComparison(
  'A local check: one token from an in-instance bucket',
  await compare(
    [
      { name: 'one key', run: () => one.take('203.0.113.7', bucket, Date.now()) },
      { name: '1,000 keys in turn', run: () => many.take(keys[next++ % 1_000]!, bucket, Date.now()) },
    ],
    { rounds: 7, iterations: 500_000, warmup: 100_000 },
  ),
);

// --- 2. an invocation with local limits -----------------------------------------------------------

const answer = async (request: Request) => {
  const order = (await request.json()) as { sku: string; qty: number };
  return json({ sku: order.sku, qty: order.qty, agent: request.headers.get('user-agent') });
};
const unlimited = lambda(createMesh({ service: 'bench', logging: { level: 'silent' } }), answer);
const oneLimit = lambda(
  createMesh(
    {
      service: 'bench',
      logging: { level: 'silent' },
      rateLimits: {
        limits: [{ name: 'per-client', descriptor: 'clientAddress', requests: 1e12, per: 'second' }],
      },
    },
    [rateLimits],
  ),
  answer,
);
const twoLimits = lambda(
  createMesh(
    {
      service: 'bench',
      logging: { level: 'silent' },
      rateLimits: {
        limits: [
          { name: 'per-client', descriptor: 'clientAddress', requests: 1e12, per: 'second' },
          { name: 'all', descriptor: 'global', requests: 1e12, per: 'second' },
        ],
      },
    },
    [rateLimits],
  ),
  answer,
);
const copy = () => ({ ...event, headers: { ...event.headers } });
printComparison(
  'A Lambda invocation (API Gateway v2, JSON in and out) with local limits',
  await compare(
    [
      { name: 'no rate limits', run: () => unlimited(copy(), context) },
      { name: 'a clientAddress limit', run: () => oneLimit(copy(), context) },
      { name: 'clientAddress + global limits', run: () => twoLimits(copy(), context) },
    ],
    { rounds: 9, iterations: 5_000, warmup: 5_000 },
  ),
);

// --- 3 and 4: a real Redis ---------------------------------------------------------------------------

const port = await new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port: free } = probe.address() as { port: number };
    probe.close(() => resolve(free));
  });
});
const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
const server = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
  { stdio: 'ignore' },
);
const url = `redis://127.0.0.1:${port}`;
const raw = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
// Connection attempts before the server listens fail; they are retried below.
raw.on('error', () => {});
for (let tries = 0; ; tries++) {
  try {
    await raw.connect();
    break;
  } catch (error) {
    if (tries > 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
await raw.set('bench:key', 'value');
const store = new RedisStore({
  shownUrl: url,
  host: '127.0.0.1',
  port,
  db: 0,
  tls: false,
  ca: undefined,
  servername: undefined,
  username: undefined,
  password: undefined,
  timeoutMs: 1_000,
  connectTimeoutMs: 1_000,
  consecutiveFailures: 3,
  openForMs: 1_000,
  keyPrefix: 'bench:',
});
await store.connect({ debug() {}, info() {}, warn() {}, error() {} } as never);
const shared = { maxTokens: 1e12, tokensPerFill: 1e12, fillIntervalMs: 1_000 };

async function roundTrips(operation: () => Promise<unknown>, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await operation();
    samples.push((performance.now() - started) * 1000);
  }
  return samples;
}
const getP50: number[] = [];
const takeP50: number[] = [];
const getP99: number[] = [];
const takeP99: number[] = [];
await roundTrips(() => raw.get('bench:key'), 2_000);
await roundTrips(() => store.take('rl:bench', shared, 1), 2_000);
for (let round = 0; round < 7; round++) {
  const gets = await roundTrips(() => raw.get('bench:key'), 3_000);
  const takes = await roundTrips(() => store.take('rl:bench', shared, 1), 3_000);
  getP50.push(median(gets));
  takeP50.push(median(takes));
  getP99.push(percentile(gets, 99));
  takeP99.push(percentile(takes, 99));
}
// Redis's own account of the time each command took inside the server, without the network.
const serverTime = async (command: string) => {
  const stats = (await raw.info('commandstats')) as string;
  return Number(new RegExp(`cmdstat_${command}:.*?usec_per_call=([\\d.]+)`).exec(stats)?.[1] ?? Number.NaN);
};
printTable(
  'A shared check against a bare GET, same Redis on 127.0.0.1, same client library, median of 7 rounds of 3,000',
  ['operation', 'p50', 'p99', 'p50 vs GET', 'time inside Redis'],
  [
    [
      'GET (ioredis)',
      `${median(getP50).toFixed(0)} µs`,
      `${median(getP99).toFixed(0)} µs`,
      '1.00×',
      `${(await serverTime('get')).toFixed(1)} µs`,
    ],
    [
      'shared check (EVALSHA token bucket)',
      `${median(takeP50).toFixed(0)} µs`,
      `${median(takeP99).toFixed(0)} µs`,
      `${(median(takeP50) / median(getP50)).toFixed(2)}×`,
      `${(await serverTime('evalsha')).toFixed(1)} µs`,
    ],
  ],
);

const leased = createMesh(
  {
    service: 'bench',
    logging: { level: 'silent' },
    redis: { url, timeout: '50ms' },
    rateLimits: {
      limits: [
        { name: 'per-user', descriptor: 'subject', requests: 1e9, per: 'minute', scope: 'shared', lease: 10 },
      ],
    },
  },
  [rateLimits, redis],
);
const leasedGlobal = createMesh(
  {
    service: 'bench',
    logging: { level: 'silent' },
    redis: { url, timeout: '50ms' },
    rateLimits: {
      limits: [
        { name: 'all', descriptor: 'global', requests: 1e9, per: 'minute', scope: 'shared', lease: 10 },
      ],
    },
  },
  [rateLimits, redis],
);
await Promise.all([leased.ready(), leasedGlobal.ready()]);
const scriptCalls = async () => {
  const stats = (await raw.info('commandstats')) as string;
  let calls = 0;
  for (const match of stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)) calls += Number(match[1]);
  return calls;
};
const handler = async () => json({ ok: true });
async function pacedChecks(
  rate: number,
  seconds: number,
): Promise<{ checks: number; trips: number; p50: number }> {
  await raw.config('RESETSTAT');
  const total = rate * seconds;
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(
      (async () => {
        const begun = performance.now();
        await invoke(leasedGlobal, handler, 'http://localhost/orders');
        latencies.push((performance.now() - begun) * 1000);
      })(),
    );
  }
  await Promise.all(pending);
  return { checks: total, trips: await scriptCalls(), p50: median(latencies) };
}
const paced = await pacedChecks(1_000, 3);
printTable(
  'A shared limit with lease 10 at 1,000 requests/s for 3 s (one instance, a global descriptor)',
  ['checks', 'round trips to Redis', 'answered without a round trip', 'invocation p50'],
  [
    [
      String(paced.checks),
      String(paced.trips),
      `${(100 * (1 - paced.trips / paced.checks)).toFixed(1)}%`,
      `${paced.p50.toFixed(0)} µs`,
    ],
  ],
);

// --- 5. what ioredis costs to load ------------------------------------------------------------------

const bundleDir = mkdtempSync(join(tmpdir(), 'bench-ioredis-'));
const entry = join(bundleDir, 'entry.cjs');
writeFileSync(entry, "require('ioredis');\n");
const bundled = join(bundleDir, 'bundle.cjs');
await build({
  ...deployedBundle('cjs'),
  entryPoints: [entry],
  outfile: bundled,
  nodePaths: [join(import.meta.dirname, 'node_modules')],
});
const loadMs = async (target: string) => {
  const samples: number[] = [];
  for (let i = 0; i < 7; i++) {
    const { stdout } = await run(process.execPath, [
      '-e',
      `const t = performance.now(); require(${JSON.stringify(target)}); process.stdout.write(String(performance.now() - t));`,
    ]);
    samples.push(Number(stdout));
  }
  return median(samples);
};
const fromModules = join(import.meta.dirname, 'node_modules', 'ioredis');
printTable(
  'Loading ioredis (only a mesh with a redis section does), median of 7 fresh processes',
  ['form', 'size', 'require'],
  [
    [
      'bundled (esbuild, minified CJS)',
      `${(statSync(bundled).size / 1024).toFixed(0)} KB`,
      `${(await loadMs(bundled)).toFixed(1)} ms`,
    ],
    ['from node_modules', '', `${(await loadMs(fromModules)).toFixed(1)} ms`],
  ],
);

await Promise.all([leased.close(), leasedGlobal.close(), store.close()]);
raw.disconnect();
server.kill();
rmSync(dir, { recursive: true, force: true });
rmSync(bundleDir, { recursive: true, force: true });
