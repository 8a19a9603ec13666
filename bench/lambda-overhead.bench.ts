/**
 * Per-invocation overhead of `lambda(mesh, handler)` on an API Gateway HTTP API (payload 2.0)
 * event, against the bare handler and the same handler under Middy with the three HTTP
 * middlewares most Lambda APIs use. Each candidate parses the JSON body, reads a header and
 * answers JSON. A second table splits the Fetch costs the adapter avoids or pays.
 */
import middy from '@middy/core';
import httpEventNormalizer from '@middy/http-event-normalizer';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpJsonBodyParser from '@middy/http-json-body-parser';
import { createMesh, LazyResponse } from '@sidecarless/core';
import { createLazyRequest } from '@sidecarless/core/adapter';
import { lambda } from '@sidecarless/lambda';
import { lambdaContext as context, apiGatewayV2Event as event } from './api-gateway-event.ts';
import { compare, printComparison } from './lib.ts';

type Order = { sku: string; qty: number };

// 1. The bare handler: what a hand-written Lambda function does.
const bare = async (incoming: typeof event) => {
  const order = JSON.parse(incoming.body) as Order;
  const agent = incoming.headers['user-agent'];
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sku: order.sku, qty: order.qty, agent }),
  };
};

// 2. Middy with the three HTTP middlewares.
const middyHandler = middy(async (incoming: { body: Order; headers: Record<string, string> }) => ({
  statusCode: 200,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    sku: incoming.body.sku,
    qty: incoming.body.qty,
    agent: incoming.headers['user-agent'],
  }),
}))
  .use(httpEventNormalizer())
  .use(httpHeaderNormalizer())
  .use(httpJsonBodyParser());

// 3. Sidecarless: a standard Request in, a standard Response out.
const mesh = createMesh({ service: 'bench', logging: { level: 'silent' } });
const wrapped = lambda(mesh, async (request) => {
  const order = (await request.json()) as Order;
  return Response.json({ sku: order.sku, qty: order.qty, agent: request.headers.get('user-agent') });
});

// The same handler answering with LazyResponse.json: a standard Response whose body the adapter
// takes as it is, without the web stream Response.json builds.
const wrappedLazy = lambda(mesh, async (request) => {
  const order = (await request.json()) as Order;
  return LazyResponse.json({ sku: order.sku, qty: order.qty, agent: request.headers.get('user-agent') });
});

// The same handler answering through `new Response(string)`, and the wrapper alone (a handler
// that builds no body), to show what the handler's own `Response` costs.
const wrappedString = lambda(mesh, async (request) => {
  const order = (await request.json()) as Order;
  const body = JSON.stringify({ sku: order.sku, qty: order.qty, agent: request.headers.get('user-agent') });
  return new Response(body, { headers: { 'content-type': 'application/json' } });
});
const wrapperOnly = lambda(mesh, async (request) => {
  await request.json();
  return new Response(null, { status: 204 });
});

// Fresh copies per call: Middy's normalisers write into the event.
const copy = () => ({ ...event, headers: { ...event.headers } });

const results = await compare(
  [
    { name: 'bare handler', run: () => bare(copy()) },
    { name: '@middy/core + 3 http middlewares', run: () => middyHandler(copy() as never, context as never) },
    { name: 'sidecarless lambda(), LazyResponse.json', run: () => wrappedLazy(copy(), context) },
    { name: 'sidecarless lambda(), Response.json', run: () => wrapped(copy(), context) },
    { name: 'sidecarless lambda(), new Response(string)', run: () => wrappedString(copy(), context) },
    { name: 'sidecarless lambda(), 204 without body', run: () => wrapperOnly(copy(), context) },
  ],
  { rounds: 9, iterations: 5_000, warmup: 5_000 },
);
printComparison('API Gateway v2 event, JSON in and out: per invocation', results);

// Where the Fetch cost goes: building the request, reading its body, building and reading the
// response. The adapter uses the lazy request and reads the response body without a stream.
const url = 'https://abc123.execute-api.us-east-1.amazonaws.com/orders?expand=items';
const fetchCosts = await compare(
  [
    {
      name: 'lazy Request + json()',
      run: () =>
        createLazyRequest({
          url,
          method: 'POST',
          headers: () => new Headers(event.headers),
          body: event.body,
        }).json(),
    },
    {
      name: 'new Request(url, {method, headers, body}) + json()',
      run: () => new Request(url, { method: 'POST', headers: event.headers, body: event.body }).json(),
    },
    { name: 'LazyResponse.json(data)', run: () => LazyResponse.json({ sku: 'A-1', qty: 2 }) },
    { name: 'Response.json(data)', run: () => Response.json({ sku: 'A-1', qty: 2 }) },
    { name: 'Response.json(data) + await text()', run: () => Response.json({ sku: 'A-1', qty: 2 }).text() },
  ],
  { rounds: 9, iterations: 3_000, warmup: 3_000 },
);
printComparison('Fetch objects: what each step costs', fetchCosts);
