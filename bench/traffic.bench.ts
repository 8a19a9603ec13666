/**
 * What traffic routing costs.
 *
 * 1. Choosing a route in a table of 10 routes with header, prefix and regex matches: the call
 *    matching the first route, the last route, and none (the upstream's own endpoints). The
 *    router alone, from the built files (it has no public entry point of its own).
 * 2. Outbound throughput through `mesh.upstream().fetch` with that 10-route table against the
 *    same upstream without routes, 1 and 16 in flight, interleaved rounds in one run; the server
 *    runs in a child process.
 * 3. What a 100% mirror adds to the main call's p50 latency at 16 in flight (the mirror target is
 *    a second server in the same child process): saturated (each caller starts its next call as
 *    soon as the last one answers) and at a fixed arrival rate below saturation.
 *
 * Run: `node bench/traffic.bench.ts` after `pnpm build`.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createMesh, type Mesh } from '@sidecarless/core';
import { IssueList } from '@sidecarless/core/feature';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
// biome-ignore lint/style/noRestrictedImports: this bench times the route table alone, which has no public entry point.
import { checkTraffic } from '../packages/outbound/dist/esm/traffic/options.js';
// biome-ignore lint/style/noRestrictedImports: the router alone, as above.
import { Router } from '../packages/outbound/dist/esm/traffic/router.js';
import { compare, median, printComparison, printTable } from './lib.ts';

const routes = [
  ...Array.from({ length: 4 }, (_, i) => ({
    name: `header-${i}`,
    match: [{ headers: { 'x-tenant': { exact: `tenant-${i}` } } }],
    route: [{ destination: { subset: 'v2' } }],
  })),
  ...Array.from({ length: 3 }, (_, i) => ({
    name: `prefix-${i}`,
    match: [{ uri: { prefix: `/api/v${i + 3}/` } }],
    route: [{ destination: { subset: 'v2' } }],
  })),
  ...Array.from({ length: 2 }, (_, i) => ({
    name: `regex-${i}`,
    match: [{ uri: { regex: `/orders/[0-9]+/items/${i}` } }],
    route: [{ destination: { subset: 'v2' } }],
  })),
  {
    name: 'canary',
    match: [{ headers: { 'end-user': { prefix: 'beta-' } } }],
    route: [
      { destination: { subset: 'v1' }, weight: 90 },
      { destination: { subset: 'v2' }, weight: 10 },
    ],
  },
];

// --- 1. route choice ---------------------------------------------------------------------------

const issues = new IssueList();
const table = checkTraffic(
  { subsets: [{ name: 'v1' }, { name: 'v2' }], http: routes },
  'upstreams.payments',
  issues,
  new Set(['payments']),
  'payments',
)!;
if (issues.issues.length > 0) throw new Error(JSON.stringify(issues.issues));
const router = new Router(table, {});
const callWith = (path: string, headers: Record<string, string>) => ({
  method: 'GET',
  path,
  query: undefined,
  header: (name: string) => headers[name],
  traceId: undefined,
});
const first = callWith('/pay', { 'x-tenant': 'tenant-0' });
const last = callWith('/pay', { 'end-user': 'beta-7' });
const none = callWith('/pay', { 'x-tenant': 'other' });
printComparison(
  'Choosing a route in a 10-route table (header, prefix, regex matches)',
  await compare(
    [
      { name: 'matches the first route', run: () => router.decide(first) },
      { name: 'matches the last route (weighted pick)', run: () => router.decide(last) },
      { name: 'matches none', run: () => router.decide(none) },
    ],
    { rounds: 7, iterations: 200_000, warmup: 50_000 },
  ),
);

// --- 2. throughput -----------------------------------------------------------------------------

const server = spawn(
  process.execPath,
  [
    '-e',
    `const s = require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => r.end('ok')); });
     s.keepAliveTimeout = 120000;
     const m = require('node:http').createServer((q, r) => { q.resume(); q.on('end', () => r.end('shadow')); });
     m.keepAliveTimeout = 120000;
     s.listen(0, '127.0.0.1', () => m.listen(0, '127.0.0.1', () => process.send([s.address().port, m.address().port])));
     process.on('disconnect', () => process.exit(0));`,
  ],
  { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
);
const [[port, mirrorPort]] = (await once(server, 'message')) as [[number, number]];
const url = `http://127.0.0.1:${port}`;
const mirrorUrl = `http://127.0.0.1:${mirrorPort}`;

function meshFor(routed: boolean): Mesh {
  return createMesh(
    {
      service: 'bench',
      logging: { level: 'silent' },
      upstreams: {
        payments: routed
          ? {
              url,
              subsets: [
                { name: 'v1', url },
                { name: 'v2', url },
              ],
              http: routes,
            }
          : { url },
      },
    },
    [outbound, http, traffic],
  );
}
const plain = meshFor(false);
const routed = meshFor(true);
await Promise.all([plain.ready(), routed.ready()]);

async function requestsPerSecond(mesh: Mesh, inFlight: number, total: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < total) {
        const response = await mesh
          .upstream('payments')
          .fetch('/api/v1/pay', { headers: { 'end-user': 'beta-1' } });
        await response.arrayBuffer();
      }
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

const rows: string[][] = [];
for (const inFlight of [1, 16]) {
  const rates = { plain: [] as number[], routed: [] as number[] };
  await requestsPerSecond(plain, inFlight, 1_000);
  await requestsPerSecond(routed, inFlight, 1_000);
  for (let round = 0; round < 7; round++) {
    rates.plain.push(await requestsPerSecond(plain, inFlight, 2_000));
    rates.routed.push(await requestsPerSecond(routed, inFlight, 2_000));
  }
  const base = median(rates.plain);
  const withRoutes = median(rates.routed);
  rows.push([
    String(inFlight),
    `${base.toFixed(0)}/s`,
    `${withRoutes.toFixed(0)}/s`,
    `${(withRoutes / base).toFixed(2)}×`,
  ]);
}
printTable(
  'Outbound throughput with a 10-route table (the last route matches), median of 7 rounds',
  ['in flight', 'no routes', '10 routes', 'ratio'],
  rows,
);

// --- 3. a 100% mirror and the main call's p50 ------------------------------------------------------

function latencyMesh(mirrored: boolean): Mesh {
  return createMesh(
    {
      service: 'bench',
      logging: { level: 'silent' },
      upstreams: {
        payments: {
          url,
          http: [{ route: [{ destination: {} }], ...(mirrored ? { mirror: { host: 'shadow' } } : {}) }],
        },
        shadow: { url: mirrorUrl },
      },
    },
    [outbound, http, traffic],
  );
}
const unmirrored = latencyMesh(false);
const mirroredMesh = latencyMesh(true);
await Promise.all([unmirrored.ready(), mirroredMesh.ready()]);

async function latencies(mesh: Mesh, inFlight: number, total: number): Promise<number[]> {
  const samples: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < total) {
        const started = performance.now();
        const response = await mesh.upstream('payments').fetch('/pay');
        await response.arrayBuffer();
        samples.push(performance.now() - started);
      }
    }),
  );
  await mesh.flush();
  return samples;
}
/**
 * The same calls arriving at a fixed rate (open loop): 16 callers each start a call every
 * 16 / rate seconds, so at most 16 are in flight and the load does not grow with latency. At
 * saturation (the closed loop above) a 100% mirror doubles the client's work on the same two
 * cores, so every call waits behind copies; below it the copies cost only the time to start them.
 */
async function paced(mesh: Mesh, inFlight: number, rate: number, total: number): Promise<number[]> {
  const samples: number[] = [];
  const interval = (inFlight / rate) * 1000;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async (_, caller) => {
      for (let i = 0; i < total / inFlight; i++) {
        await sleep(start + caller * (interval / inFlight) + i * interval - performance.now());
        const started = performance.now();
        const response = await mesh.upstream('payments').fetch('/pay');
        await response.arrayBuffer();
        samples.push(performance.now() - started);
      }
    }),
  );
  await mesh.flush();
  return samples;
}

const p50 = { plain: [] as number[], mirrored: [] as number[] };
const pacedP50 = { plain: [] as number[], mirrored: [] as number[] };
const pacedRate = 4_000;
await latencies(unmirrored, 16, 1_000);
await latencies(mirroredMesh, 16, 1_000);
for (let round = 0; round < 7; round++) {
  p50.plain.push(median(await latencies(unmirrored, 16, 2_000)));
  p50.mirrored.push(median(await latencies(mirroredMesh, 16, 2_000)));
}
// Paced rounds are noisier (the two cores also run the servers): 15 rounds of 4,000 calls.
for (let round = 0; round < 15; round++) {
  pacedP50.plain.push(median(await paced(unmirrored, 16, pacedRate, 4_000)));
  pacedP50.mirrored.push(median(await paced(mirroredMesh, 16, pacedRate, 4_000)));
}
const row = (name: string, value: number, base: number) => [
  name,
  `${(value * 1000).toFixed(0)} µs`,
  `${(value / base).toFixed(2)}×`,
];
printTable(
  'Main-call p50 at 16 in flight, with and without a 100% mirror, median of 7 (saturated) and 15 (paced) rounds',
  ['candidate', 'p50', 'vs no mirror'],
  [
    row('saturated (closed loop): no mirror', median(p50.plain), median(p50.plain)),
    row('saturated (closed loop): 100% mirror', median(p50.mirrored), median(p50.plain)),
    row(`${pacedRate}/s (open loop): no mirror`, median(pacedP50.plain), median(pacedP50.plain)),
    row(`${pacedRate}/s (open loop): 100% mirror`, median(pacedP50.mirrored), median(pacedP50.plain)),
  ],
);
await Promise.all([plain.close(), routed.close(), unmirrored.close(), mirroredMesh.close()]);
server.disconnect();
