/**
 * Per-invocation overhead of the kernel: `invoke(mesh, handler)` through the full pipeline
 * (context, error mapping, deadline race) vs calling the same handler bare, on the same
 * prebuilt Request. Also the one-time costs: checking options and creating a mesh.
 */

import { auth } from '@sidecarless/auth';
import { createMesh, type HttpHandler, type MeshContext, normalizeOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { telemetry } from '@sidecarless/telemetry';
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
    { name: 'check options (normalizeOptions)', run: () => normalizeOptions(fullOptions, [], {}) },
    {
      name: 'createMesh (check + logger)',
      run: () => createMesh(fullOptions, [telemetry, auth, outbound, http]),
    },
  ],
  { rounds: 5, iterations: 2_000, warmup: 200 },
);
printTable(
  'One-time init costs (warm; a cold process pays more — see cold-start.bench.ts)',
  ['step', 'median'],
  init.map((r) => [r.name, us(r.nsPerOp)]),
);

// What one logged line costs by the shape of its fields: the redaction walk (redact.ts) is the
// part that grows with them. The event is an API Gateway HTTP API (2.0) event as a handler
// would log it; the error is shaped as axios throws one (config, headers, a cyclic request).
const eventFields = {
  event: {
    version: '2.0',
    routeKey: 'POST /v1/orders',
    rawPath: '/v1/orders',
    rawQueryString: 'page=2&access_token=t',
    cookies: ['session=s', 'theme=dark'],
    headers: {
      accept: 'application/json',
      authorization: 'Bearer x.y.z',
      'content-type': 'application/json',
      host: 'api.example.com',
      'user-agent': 'curl/8.5.0',
      'x-amzn-trace-id': 'Root=1-5e1b4151-5ac6c58f5b5daa6532e4ee3e',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
    },
    queryStringParameters: { page: '2', access_token: 't' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      http: { method: 'POST', path: '/v1/orders', protocol: 'HTTP/1.1', sourceIp: '203.0.113.7' },
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      stage: '$default',
      timeEpoch: 1583348638390,
    },
    body: '{"sku":"A-1","quantity":2}',
    isBase64Encoded: false,
  },
};
const axiosLike = Object.assign(new Error('Request failed with status code 401'), {
  code: 'ERR_BAD_REQUEST',
  config: {
    url: 'https://partner.example.com/v1?api_key=k',
    headers: { Authorization: 'Bearer x', Accept: '*/*' },
  },
  response: { status: 401, headers: { 'set-cookie': 'id=1', 'content-type': 'application/json' } },
});
const lines = await compare(
  [
    { name: 'log.info({ n: 1 })', run: () => mesh.log.info({ n: 1 }, 'handled') },
    { name: 'log.info({ event }) — an HTTP API event', run: () => mesh.log.info(eventFields, 'event') },
    {
      name: 'log.error({ err }) — an axios-shaped error',
      run: () => mesh.log.error({ err: axiosLike }, 'failed'),
    },
  ],
  { rounds: 7, iterations: 20_000, warmup: 2_000 },
);
printTable(
  'One log line by field shape (warm; written to a discarding destination)',
  ['line', 'median'],
  lines.map((r) => [r.name, us(r.nsPerOp)]),
);
