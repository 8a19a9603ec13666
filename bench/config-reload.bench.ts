/**
 * What live reload costs an invocation: the same configuration — an AuthorizationPolicy and a
 * ServiceEntry — given inline (reload off) and loaded from a watched ConfigMap directory by the
 * istio feature (reload on), the latter also after ten reloads (ten generations swapped in and
 * retired). Interleaved in one run; the handler makes one `ctx.upstream().call()` so the
 * generation's outbound client is on the measured path too. The only thing reload adds per
 * invocation is one generation compare and the context counting itself in and out, which every
 * mesh does, reload or not (core/src/generation.ts).
 *
 * Then the reload itself, off the hot path: reading the files, loading them, and building and
 * swapping in the next generation (`mesh.reconfigure`), per change.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { auth } from '@sidecarless/auth';
import { createMesh, type HttpHandler, type Mesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { istio, loadIstio } from '@sidecarless/istio';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { compare, median, printTable, times, us } from './lib.ts';

const policy = (paths: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: orders-access, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules:
  - to: [{ operation: { methods: ["GET"], paths: [${paths}] } }]
`;
const entry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: stock, namespace: shop }
spec:
  hosts: [stock.example.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 8080, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1 }]
`;

// A ConfigMap volume, updated as the kubelet does (see packages/istio/test/config-map.ts).
const dir = mkdtempSync(join(tmpdir(), 'sidecarless-bench-configmap-'));
let version = 0;
function publish(policyText: string): void {
  const name = `..2026_12_04_18_00_00.${String(++version).padStart(9, '0')}`;
  mkdirSync(join(dir, name));
  writeFileSync(join(dir, name, 'policy.yaml'), policyText);
  writeFileSync(join(dir, name, 'stock.yaml'), entry);
  symlinkSync(name, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  for (const key of ['policy.yaml', 'stock.yaml'])
    try {
      symlinkSync(join('..data', key), join(dir, key));
    } catch {
      // The key's link exists from the first version.
    }
}
publish(policy('"/api/*"'));

const silent = { write: () => {} };
const features = [auth, outbound, http] as const;
const loaded = await loadIstio(
  [
    { path: 'policy.yaml', text: policy('"/api/*"') },
    { path: 'stock.yaml', text: entry },
  ],
  { namespace: 'shop', labels: { app: 'orders' } },
);
const reloadOff = createMesh({ service: 'orders', logging: { destination: silent }, ...loaded.options }, [
  ...features,
]);
const reloadOn = createMesh(
  { service: 'orders', logging: { destination: silent }, istio: { files: [dir], namespace: 'shop' } },
  [...features, istio],
);
const reloaded = createMesh(
  { service: 'orders', logging: { destination: silent }, istio: { files: [dir], namespace: 'shop' } },
  [...features, istio],
);
await Promise.all([reloadOff.ready(), reloadOn.ready(), reloaded.ready()]);

/** Waits until `mesh` runs a generation at least `generation`, by asking it to reload nothing. */
async function generationOf(mesh: Mesh): Promise<number> {
  return (await mesh.reconfigure({})).generation;
}

// Ten reloads, each a real ..data swap the watcher picks up (the policy's path list grows by one;
// the request matches its first path).
for (let i = 1; i <= 10; i++) {
  const paths = ['"/api/*"', ...Array.from({ length: i }, (_, n) => `"/v${n}/*"`)].join(', ');
  const before = await generationOf(reloaded);
  publish(policy(paths));
  while ((await generationOf(reloaded)) === before) await new Promise((resolve) => setTimeout(resolve, 20));
}

const handler: HttpHandler = async (_request, ctx) => {
  await ctx.upstream('stock.example.test').call(async () => 1);
  return new Response('ok');
};
const request = new Request('http://localhost/api/orders/42');
for (const mesh of [reloadOff, reloadOn, reloaded]) {
  const response = await invoke(mesh, handler, request);
  if (response.status !== 200) throw new Error(`expected 200, got ${response.status}`);
}

const results = await compare(
  [
    { name: 'reload off (the same options inline)', run: () => invoke(reloadOff, handler, request) },
    { name: 'reload on (istio feature, watching)', run: () => invoke(reloadOn, handler, request) },
    { name: 'reload on, after 10 reloads', run: () => invoke(reloaded, handler, request) },
  ],
  // Many short interleaved rounds: on a shared machine the best round is the steadier figure.
  { rounds: 21, iterations: 10_000, warmup: 5_000 },
);
const baseline = results[0]!;
printTable(
  'Per invocation, reload off vs on (warm, in-process: auth policy + one upstream call)',
  ['mesh', 'median per invocation', 'vs reload off', 'best round', 'vs reload off (best)'],
  results.map((r) => [
    r.name,
    us(r.nsPerOp),
    times(r.nsPerOp / baseline.nsPerOp),
    us(Math.min(...r.rounds)),
    times(Math.min(...r.rounds) / Math.min(...baseline.rounds)),
  ]),
);

// The reload itself: a changed policy through the whole path (read, load, check, start, swap).
const reloadTimes: number[] = [];
for (let i = 0; i < 30; i++) {
  const started = process.hrtime.bigint();
  const result = await reloadOn.reconfigure({
    auth: {
      policies: [{ name: 'orders-access', action: 'ALLOW', rules: [{ to: [{ paths: [`/r${i}/*`] }] }] }],
    },
  });
  reloadTimes.push(Number(process.hrtime.bigint() - started));
  if (result.outcome !== 'applied') throw new Error(`reconfigure ${result.outcome}`);
}
const loadTimes: number[] = [];
for (let i = 0; i < 30; i++) {
  const started = process.hrtime.bigint();
  await loadIstio(
    [
      { path: 'policy.yaml', text: policy(`"/l${i}/*"`) },
      { path: 'stock.yaml', text: entry },
    ],
    { namespace: 'shop', labels: { app: 'orders' } },
  );
  loadTimes.push(Number(process.hrtime.bigint() - started));
}
printTable(
  'One reload, off the hot path (median of 30)',
  ['step', 'median'],
  [
    ['loadIstio (parse, schema, map) of the two files', us(median(loadTimes))],
    ['mesh.reconfigure (check, start auth, swap)', us(median(reloadTimes))],
  ],
);

await Promise.all([reloadOff.close(), reloadOn.close(), reloaded.close()]);
rmSync(dir, { recursive: true, force: true });
