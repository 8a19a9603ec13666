/**
 * The outbound client's cost on loopback: requests/s and p50/p99 latency through
 * `mesh.upstream().fetch` with every policy on, against raw `undici.request` on a keep-alive
 * Pool with the same options, and against global `fetch` — 1 and 16 requests in flight,
 * interleaved rounds in one run. The server runs in a child process so it does not share the
 * client's event loop.
 *
 * Run: `pnpm bench outbound` (after `pnpm build`: it loads the built package, as users do).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createMesh } from '@sidecarless/core';
import { outbound } from '@sidecarless/outbound';
import { http as httpFeature } from '@sidecarless/outbound/http';
import { Pool } from 'undici';
import { median, percentile, printTable } from './lib.ts';

const serverSource = `
  const http = require('node:http');
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); });
  });
  server.keepAliveTimeout = 120000;
  server.listen(0, '127.0.0.1', () => process.send(server.address().port));
  process.on('disconnect', () => process.exit(0));
`;

const server = spawn(process.execPath, ['-e', serverSource], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const [port] = (await once(server, 'message')) as [number];
const origin = `http://127.0.0.1:${port}`;

const mesh = createMesh(
  {
    service: 'bench',
    logging: { level: 'silent' },
    upstreams: {
      target: {
        endpoints: origin,
        timeout: '5s',
        retries: { attempts: 2, perTryTimeout: '2s', retryOn: '5xx,reset,connect-failure' },
        retryBudget: { percent: 20, minRetryConcurrency: 3 },
        circuitBreaker: { consecutiveFailures: 5, halfOpenAfter: '10s' },
        outlierDetection: { consecutive5xxErrors: 5 },
        connectionPool: { tcp: { maxConnections: 64 }, http: { http1MaxPendingRequests: 1024 } },
      },
    },
  },
  [outbound, httpFeature],
);
await mesh.ready();
const upstream = mesh.upstream('target');
const rawPool = new Pool(origin, { connections: 64, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000 });

interface Candidate {
  name: string;
  request(): Promise<unknown>;
}

const candidates: Candidate[] = [
  {
    name: 'undici.request (raw Pool)',
    request: async () => {
      const { body } = await rawPool.request({ path: '/items', method: 'GET' });
      return body.text();
    },
  },
  {
    name: 'upstream().fetch, all policies',
    request: async () => (await upstream.fetch('/items')).text(),
  },
  {
    name: 'global fetch',
    request: async () => (await fetch(`${origin}/items`)).text(),
  },
];

/**
 * Runs `total` requests with `inFlight` workers; returns req/s, every latency in ms, and the
 * client process's CPU time per request — steadier than wall time on a shared machine, and the
 * server's CPU is not in it (it runs in a child process).
 */
async function run(
  candidate: Candidate,
  inFlight: number,
  total: number,
): Promise<{ rps: number; latencies: number[]; cpuUs: number }> {
  const latencies: number[] = [];
  let issued = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const worker = async () => {
    while (issued < total) {
      issued++;
      const t = performance.now();
      await candidate.request();
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { rps: (total / elapsed) * 1000, latencies, cpuUs: (cpu.user + cpu.system) / total };
}

const rounds = 5;
for (const inFlight of [1, 16]) {
  const total = inFlight === 1 ? 2_000 : 4_000;
  for (const candidate of candidates) await run(candidate, inFlight, 500); // warm up
  const results = candidates.map(() => ({
    rps: [] as number[],
    p50: [] as number[],
    p99: [] as number[],
    cpu: [] as number[],
  }));
  for (let round = 0; round < rounds; round++) {
    for (const [index, candidate] of candidates.entries()) {
      const { rps, latencies, cpuUs } = await run(candidate, inFlight, total);
      results[index]!.rps.push(rps);
      results[index]!.cpu.push(cpuUs);
      results[index]!.p50.push(percentile(latencies, 50));
      results[index]!.p99.push(percentile(latencies, 99));
    }
  }
  const baseline = median(results[0]!.rps);
  const baselineP99 = median(results[0]!.p99);
  printTable(
    `Loopback GET, ${inFlight} in flight (${rounds} interleaved rounds of ${total}, medians)`,
    ['client', 'req/s', 'vs raw', 'p50', 'p99', 'p99 vs raw', 'client CPU/req'],
    candidates.map((candidate, index) => {
      const r = results[index]!;
      return [
        candidate.name,
        Math.round(median(r.rps)).toLocaleString('en-US'),
        `${((median(r.rps) / baseline) * 100).toFixed(0)}%`,
        `${median(r.p50).toFixed(3)} ms`,
        `${median(r.p99).toFixed(3)} ms`,
        `${((median(r.p99) / baselineP99) * 100).toFixed(0)}%`,
        `${median(r.cpu).toFixed(1)} µs`,
      ];
    }),
  );
}

await rawPool.close();
await mesh.close();
server.kill();
