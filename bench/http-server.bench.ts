/**
 * Requests/s and latency of a trivial handler served by `knative(mesh, handler)` (the shared
 * Node server: IncomingMessage → Request → pipeline → Response → ServerResponse) against a bare
 * `node:http` server doing the same, on loopback, loaded by autocannon.
 *
 * Each server runs in its own child process (so the load generator does not share its event
 * loop); rounds alternate bare, knative, bare, knative… so machine drift hits both alike.
 * Quoted: the median round's req/s and latency percentiles, knative/bare throughput (of the
 * medians, and the median of each round's own ratio, steadier when the machine drifts), and the
 * server process's CPU time per request (user + system, read over IPC after each round), which
 * is far steadier than req/s on a shared machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { median, printTable } from './lib.ts';

type Target = 'bare' | 'knative' | 'knative-lazy';
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const connections = 16;

async function serve(target: Target): Promise<void> {
  process.on('message', () => process.send?.(process.cpuUsage()));
  if (target === 'bare') {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain;charset=UTF-8' });
      res.end('hello');
    });
    server.listen(0, '127.0.0.1', () => {
      process.stdout.write(`${(server.address() as { port: number }).port}\n`);
    });
    return;
  }
  const { createMesh, LazyResponse } = await import('@sidecarless/core');
  const { knative } = await import('@sidecarless/knative');
  const mesh = createMesh({ service: 'bench', logging: { level: 'silent' } });
  // The same handler answering with the standard Response, or with LazyResponse (no web stream).
  const handler = target === 'knative' ? () => new Response('hello') : () => new LazyResponse('hello');
  const server = knative(mesh, handler, { port: 0 });
  const { port } = await server.listen();
  process.stdout.write(`${port}\n`);
}

function startTarget(target: Target): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'serve', target], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (chunk: Buffer) =>
      resolve({ child, url: `http://127.0.0.1:${chunk.toString().trim()}` }),
    );
    child.once('exit', (code) => reject(new Error(`${target} server exited with ${code}`)));
  });
}

interface Round {
  rps: number;
  p50: number;
  p99: number;
  /** Server CPU microseconds per request. */
  cpuUs: number;
}

function cpuOf(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (usage: NodeJS.CpuUsage) => resolve(usage.user + usage.system));
    child.send('cpu');
  });
}

async function load(target: { child: ChildProcess; url: string }, duration: number): Promise<Round> {
  const before = await cpuOf(target.child);
  const result = await autocannon({ url: target.url, connections, duration, pipelining: 1 });
  const after = await cpuOf(target.child);
  if (result.non2xx > 0 || result.errors > 0)
    throw new Error(`${target.url}: ${result.non2xx} non-2xx, ${result.errors} errors`);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUs: (after - before) / Math.max(1, result.requests.total),
  };
}

const labels: Record<Target, string> = {
  bare: 'bare node:http',
  knative: 'knative(mesh, handler), new Response',
  'knative-lazy': 'knative(mesh, handler), new LazyResponse',
};

async function main(): Promise<void> {
  const targets: Target[] = ['bare', 'knative', 'knative-lazy'];
  const running = await Promise.all(targets.map(startTarget));
  const results = new Map<Target, Round[]>(targets.map((target) => [target, []]));
  try {
    for (const target of running) await load(target, 1); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const [index, target] of targets.entries())
        results.get(target)!.push(await load(running[index]!, seconds));
    }
  } finally {
    for (const { child } of running) child.kill('SIGKILL');
  }
  const summary = targets.map((target) => {
    const all = results.get(target)!;
    return {
      target,
      rps: median(all.map((r) => r.rps)),
      p50: median(all.map((r) => r.p50)),
      p99: median(all.map((r) => r.p99)),
      cpuUs: median(all.map((r) => r.cpuUs)),
      spread: `${Math.round(Math.min(...all.map((r) => r.rps)))}–${Math.round(Math.max(...all.map((r) => r.rps)))}`,
    };
  });
  const bare = summary[0]!.rps;
  // Each round runs the servers back to back, so a round's ratio compares like with like while the
  // machine's speed drifts between rounds: the median of those ratios is the figure to quote.
  const bareRounds = results.get('bare')!;
  const roundRatio = (target: Target, of: (round: Round) => number) =>
    median(results.get(target)!.map((round, index) => of(round) / of(bareRounds[index]!)));
  printTable(
    `trivial handler on loopback: ${connections} connections, ${rounds} × ${seconds}s rounds interleaved, Node ${process.version}`,
    [
      'server',
      'req/s (median)',
      'req/s range',
      'p50 ms',
      'p99 ms',
      'vs bare',
      'vs bare, per round',
      'server CPU/req',
      'CPU vs bare, per round',
    ],
    summary.map((row) => [
      labels[row.target],
      Math.round(row.rps).toString(),
      row.spread,
      row.p50.toFixed(1),
      row.p99.toFixed(1),
      `${((row.rps / bare) * 100).toFixed(1)}%`,
      `${(roundRatio(row.target, (round) => round.rps) * 100).toFixed(1)}%`,
      `${row.cpuUs.toFixed(1)} µs`,
      `${roundRatio(row.target, (round) => round.cpuUs).toFixed(2)}×`,
    ]),
  );
}

if (process.argv[2] === 'serve') await serve(process.argv[3] as Target);
else await main();
