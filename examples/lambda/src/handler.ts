/**
 * An orders service on AWS Lambda: one mesh, three handlers. Bundled by esbuild into one
 * CommonJS file (nodejs22.x runs with require(esm) off; a single bundle also starts fastest).
 */
import { createMesh, SidecarlessError } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({
  service: 'orders',
  logging: { level: 'info' },
  invocation: { safetyMargin: '300ms' },
});

interface Order {
  sku: string;
  qty: number;
}

function parseOrder(value: unknown): Order {
  const order = value as Partial<Order> | null;
  if (!order || typeof order.sku !== 'string' || !Number.isInteger(order.qty) || (order.qty ?? 0) < 1) {
    throw new SidecarlessError('SCL_ERR_INVALID_ORDER', 'an order needs a sku and a positive whole qty', {
      status: 422,
    });
  }
  return { sku: order.sku, qty: order.qty as number };
}

/** HTTP API / Function URL: POST /orders, GET /orders/{id}. */
export const api = lambda(mesh, async (request, ctx) => {
  const url = new URL(request.url);
  if (request.method === 'POST' && url.pathname === '/orders') {
    const order = parseOrder(await request.json().catch(() => null));
    ctx.log.info({ sku: order.sku, qty: order.qty }, 'order accepted');
    return Response.json({ id: ctx.invocationId, ...order }, { status: 201 });
  }
  const match = /^\/orders\/([\w-]+)$/.exec(url.pathname);
  if (request.method === 'GET' && match) return Response.json({ id: match[1], status: 'pending' });
  return Response.json({ error: 'not found' }, { status: 404 });
});

/** SQS worker: failed messages are retried alone (ReportBatchItemFailures). */
export const worker = lambda.sqs(
  mesh,
  async (record, ctx) => {
    const order = parseOrder(JSON.parse(record.body));
    ctx.log.info({ sku: order.sku, message: record.messageId }, 'order fulfilled');
  },
  { concurrency: 4 },
);

/** EventBridge Scheduler: a nightly report. */
export const nightly = lambda.eventbridge(mesh, async (event, ctx) => {
  ctx.log.info({ at: event.time, cold: ctx.coldStart }, 'nightly report');
});
