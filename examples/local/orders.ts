/**
 * An order function written once as a Sidecarless handler. The same `handler` runs on every
 * platform adapter; here the demo runs it through the local one.
 */

import type { LogDestination } from '@sidecarless/core';
import { createMesh, type HttpHandler, SidecarlessError } from '@sidecarless/core';

interface OrderInput {
  sku: string;
  quantity: number;
}

function parseOrder(value: unknown): OrderInput {
  const input = value as Partial<OrderInput> | null;
  if (typeof input?.sku !== 'string' || !Number.isInteger(input.quantity) || (input.quantity ?? 0) < 1) {
    throw new SidecarlessError(
      'SCL_ERR_BAD_ORDER',
      'an order needs a "sku" and a positive whole "quantity"',
      {
        status: 400,
      },
    );
  }
  return { sku: input.sku, quantity: input.quantity! };
}

/** Creates the order function's mesh, logging to `destination` (standard output by default). */
export function createOrdersMesh(destination?: LogDestination) {
  return createMesh({
    service: 'orders',
    version: '1.0.0',
    invocation: { timeout: '2s', safetyMargin: '100ms' },
    logging: destination ? { destination } : {},
  });
}

export const handler: HttpHandler = async (request, ctx) => {
  const url = new URL(request.url);
  if (request.method === 'GET' && url.pathname === '/orders/health') return Response.json({ ok: true });
  if (request.method !== 'POST' || url.pathname !== '/orders') {
    return Response.json({ error: 'not found' }, { status: 404 });
  }
  const order = parseOrder(await request.json().catch(() => null));
  if (order.sku === 'slow') {
    // Stands in for a call that never answers: ctx.signal fires `safetyMargin` before the
    // deadline, so the handler stops cleanly and the caller gets a 504 instead of a killed process.
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    ctx.log.warn({ sku: order.sku, remainingMs: ctx.remainingTime() }, 'stopping before the deadline');
    throw ctx.signal.reason;
  }
  if (order.sku === 'crash')
    throw new Error('inventory table locked (internal detail the caller must not see)');
  ctx.log.info({ sku: order.sku, quantity: order.quantity }, 'order accepted');
  return Response.json({ orderId: `ord_${ctx.invocationId.slice(0, 8)}`, ...order }, { status: 201 });
};
