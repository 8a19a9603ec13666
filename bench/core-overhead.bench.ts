/**
 * Per-invocation overhead of the kernel: `invoke(mesh, handler)` through the full pipeline
 * (context, error mapping, deadline race) vs calling the same handler bare, on the same
 * prebuilt Request. Also the one-time costs: checking options and creating a mesh.
 */
import { createMesh, type HttpHandler, type MeshContext, normalizeOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { compare, printComparison, printTable, us } from './lib.ts';

const silent = { write: () => {} };
const mesh = createMesh({ service: 'bench', logging: { destination: silent } });
const withMiddleware = createMesh({
  service: 'bench',
  logging: { destination: silent },
  middleware: [1, 2, 3].map((n) => ({ name: `pass-${n}`, http: (next) => next })),
});

const response = new Response('ok');
const handler: HttpHandler = () => response;
const loggingHandler: HttpHandler = (_request, ctx) => {
  ctx.log.info({ n: 1 }, 'handled');
  return response;
};
const request = new Request('http://localhost/orders/42', { headers: { 'x-request-id': 'r1' } });
const fakeCtx = {} as MeshContext;

const results = await compare([
  { name: 'bare handler', run: () => handler(request, fakeCtx) },
  { name: 'invoke(mesh, handler)', run: () => invoke(mesh, handler, request) },
  { name: 'invoke + 3 pass-through stages', run: () => invoke(withMiddleware, handler, request) },
  { name: 'invoke + handler logs one line', run: () => invoke(mesh, loggingHandler, request) },
]);
printComparison('Per-invocation overhead (warm, in-process)', results);
const base = results[0]!.nsPerOp;
console.log(
  `\nkernel overhead per invocation: ${us(results[1]!.nsPerOp - base)} (median of 7 rounds × 20,000)`,
);

// One-time costs, measured the same way (medians of rounds).
const fullOptions = {
  service: 'orders',
  version: '1.0.0',
  logging: { level: 'info' as const, redact: ['body.card'], destination: silent },
  invocation: { timeout: '10s', safetyMargin: '150ms' },
};
const init = await compare(
  [
    { name: 'check options (normalizeOptions)', run: () => normalizeOptions(fullOptions, {}) },
    { name: 'createMesh (check + logger)', run: () => createMesh(fullOptions) },
  ],
  { rounds: 5, iterations: 2_000, warmup: 200 },
);
printTable(
  'One-time init costs (warm; a cold process pays more — see cold-start.bench.ts)',
  ['step', 'median'],
  init.map((r) => [r.name, us(r.nsPerOp)]),
);
