/**
 * `inventory`: answers stock levels over HTTP, and takes `com.example.stock.adjusted` CloudEvents
 * that change them. Its policy lets two workloads read stock — `orders` and the `warehouse` —
 * judged on the caller's mTLS identity (`ctx.peer`). Written once; deployed on Knative
 * (platforms/inventory-knative.ts): the HTTP handler on Knative Serving, the events handler as a
 * Knative Eventing sink.
 */

import { auth } from '@sidecarless/auth';
import { createMesh, type HttpHandler, type MeshOptions, SidecarlessError } from '@sidecarless/core';
import { istio } from '@sidecarless/istio';
import type { CloudEventHandler, KnativeRaw } from '@sidecarless/knative';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { telemetry } from '@sidecarless/telemetry';
import { meshPolicyFromEnv, telemetryFromEnv, trustedProxiesFromEnv } from './environment.ts';

/** The CloudEvent type that changes a stock level. */
export const stockAdjusted = 'com.example.stock.adjusted';

/**
 * Stock levels by SKU. In memory, one table per process: the demo runs both handlers in one
 * process, so an adjustment is what the next order sees. Deployed with more than one instance,
 * this is where a shared store goes.
 */
export type StockTable = Map<string, number>;

/** The demo's starting stock: `poster-1` is sold out until a stock event arrives. */
export function createStockTable(): StockTable {
  return new Map([
    ['book-42', 12],
    ['mug-7', 3],
    ['poster-1', 0],
  ]);
}

/** The options of the inventory mesh, from the environment. */
export function inventoryOptions(
  env: NodeJS.ProcessEnv = process.env,
  { sink = false }: { sink?: boolean } = {},
): MeshOptions {
  return {
    service: 'inventory',
    // Its policy is the namespace's, from deploy/mesh-policy.yaml: AuthorizationPolicy
    // stock-readers (orders and the warehouse, by their mTLS identity) under STRICT mTLS.
    istio: {
      ...meshPolicyFromEnv(env),
      auth: {
        // Locally inventory terminates mTLS and ctx.peer comes from the socket. In a cluster,
        // Knative's queue-proxy sits in between: the caller then comes from a trusted proxy's
        // x-forwarded-client-cert (see the README's deployment notes).
        trustedProxies: trustedProxiesFromEnv(env),
        // The stock-events sink alone (inventory-events in deploy/knative.yaml) has no sidecar:
        // the Broker delivers to it, cluster-local, without a client certificate.
        ...(sink ? { peerAuthentication: { mtls: { mode: 'PERMISSIVE' as const } } } : {}),
      },
    },
    telemetry: telemetryFromEnv(env),
  };
}

/** Creates the inventory mesh from the environment. */
export function createInventoryMesh(env: NodeJS.ProcessEnv = process.env, options: { sink?: boolean } = {}) {
  return createMesh(inventoryOptions(env, options), [telemetry, auth, outbound, http, traffic, istio]);
}

/** The HTTP handler: `GET /stock/:sku`. Only callers the policy admitted get here. */
export function createInventoryHandler(stock: StockTable): HttpHandler<KnativeRaw> {
  return async function stockLevel(request, ctx) {
    const match = /^\/stock\/([^/]+)$/.exec(new URL(request.url).pathname);
    if (request.method !== 'GET' || !match) return Response.json({ error: 'not found' }, { status: 404 });
    const sku = decodeURIComponent(match[1]!);
    // The identity the auth stage read from the verified client certificate.
    const caller = ctx.peer?.spiffeId;
    ctx.log.info({ sku, caller }, 'stock checked');
    return Response.json({ sku, available: stock.get(sku) ?? 0, servedBy: 'inventory', caller });
  };
}

function badEvent(message: string): SidecarlessError {
  // 400: the broker does not redeliver an event that can never be applied.
  return new SidecarlessError('SCL_ERR_BAD_STOCK_EVENT', message, { status: 400, expose: true });
}

/**
 * The CloudEvents handler: applies `com.example.stock.adjusted` (`data: { sku, delta }`) to the
 * table. Other types are logged and acknowledged (the Trigger's filter should not send them).
 */
export function createStockEventsHandler(stock: StockTable): CloudEventHandler {
  return function adjustStock(event, ctx) {
    if (event.type !== stockAdjusted) {
      ctx.log.warn({ type: event.type }, 'event ignored: not a stock adjustment');
      return;
    }
    const data = event.data as { sku?: unknown; delta?: unknown } | undefined;
    if (typeof data?.sku !== 'string' || !Number.isInteger(data.delta)) {
      throw badEvent('a stock adjustment needs data { "sku": string, "delta": integer }');
    }
    const delta = data.delta as number;
    const before = stock.get(data.sku) ?? 0;
    const after = before + delta;
    if (after < 0) throw badEvent(`${data.sku} has ${before} in stock; it cannot go down by ${-delta}`);
    stock.set(data.sku, after);
    ctx.log.info({ sku: data.sku, before, after, eventId: event.id }, 'stock adjusted');
  };
}
