import { createMesh, LazyResponse } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const event = {
  version: '2.0',
  routeKey: 'POST /orders',
  rawPath: '/orders',
  rawQueryString: 'expand=items',
  headers: {
    accept: 'application/json',
    'content-type': 'application/json',
    'content-length': '21',
    host: 'abc123.execute-api.us-east-1.amazonaws.com',
    'user-agent': 'bench/1.0',
    'x-amzn-trace-id': 'Root=1-6745a1b2-0123456789abcdef01234567',
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
  },
  queryStringParameters: { expand: 'items' },
  requestContext: {
    accountId: '123456789012',
    apiId: 'abc123',
    domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
    domainPrefix: 'abc123',
    http: {
      method: 'POST',
      path: '/orders',
      protocol: 'HTTP/1.1',
      sourceIp: '203.0.113.7',
      userAgent: 'bench/1.0',
    },
    requestId: 'bench-request',
    routeKey: 'POST /orders',
    stage: '$default',
    time: '26/Nov/2026:00:00:00 +0000',
    timeEpoch: 1795651200000,
  },
  body: '{"sku":"A-1","qty":2}',
  isBase64Encoded: false,
};
const deadline = Date.now() + 3600000;
const context = {
  awsRequestId: 'bench-request',
  functionName: 'bench',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => deadline - Date.now(),
};
const mesh = createMesh({ service: 'bench', logging: { level: 'silent' } });
const mode = process.argv[2] ?? 'json';
const wrapped = lambda(mesh, async (request) => {
  const order = await request.json();
  if (mode === '204') return new Response(null, { status: 204 });
  if (mode === 'lazy')
    return LazyResponse.json({ sku: order.sku, qty: order.qty, agent: request.headers.get('user-agent') });
  return Response.json({ sku: order.sku, qty: order.qty, agent: request.headers.get('user-agent') });
});
const copy = () => ({ ...event, headers: { ...event.headers } });
for (let r = 0; r < 5; r++) {
  const t = performance.now();
  for (let i = 0; i < 50000; i++) await wrapped(copy(), context);
  console.log(mode, (((performance.now() - t) / 50000) * 1000).toFixed(2), 'µs');
}
