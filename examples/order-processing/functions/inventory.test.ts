/**
 * inventory on its real Knative adapters, over real mTLS with certificates minted here: the
 * `stock-readers` policy judges the caller by `ctx.peer` (the verified client certificate), and
 * a stock event through the CloudEvents sink changes what the next stock query answers — or,
 * when it cannot be applied, is refused with 400 and changes nothing.
 */
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { auth } from '@sidecarless/auth';
import { createMesh } from '@sidecarless/core';
import { istio } from '@sidecarless/istio';
import { knative, type NodeServer } from '@sidecarless/knative';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { telemetry } from '@sidecarless/telemetry';
import { captureLogs, createCa } from '@sidecarless/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spiffe } from './environment.ts';
import {
  createInventoryHandler,
  createStockEventsHandler,
  createStockTable,
  inventoryOptions,
  stockAdjusted,
} from './inventory.ts';

type Pem = { cert: string; key: string };
let ca: string;
let clients: Record<'orders' | 'warehouse' | 'payments', Pem>;
let servers: NodeServer[] = [];
let stockUrl = '';
let eventsUrl = '';
const logs = captureLogs();

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

function send(
  url: string,
  as: Pem | undefined,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      { method: init.method ?? 'GET', headers: init.headers, ca, ...(as ?? {}), agent: false },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: text ? JSON.parse(text) : {} }),
        );
      },
    );
    request.on('error', reject);
    request.end(init.body);
  });
}

function stockEvent(data: unknown, id: string, as: Pem = clients.warehouse): Promise<Answer> {
  return send(`${eventsUrl}/`, as, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-type': stockAdjusted,
      'ce-source': '/shop/warehouse',
    },
    body: JSON.stringify(data),
  });
}

beforeAll(async () => {
  const authority = await createCa({ commonName: 'inventory test mesh CA' });
  ca = authority.cert;
  const issue = (name: keyof typeof spiffe, usage: 'client' | 'server') =>
    authority.issue({ commonName: name, uris: [spiffe[name]], usage });
  clients = {
    orders: await issue('orders', 'client'),
    warehouse: await issue('warehouse', 'client'),
    payments: await issue('payments', 'client'),
  };
  const own = await issue('inventory', 'server');
  // Telemetry is not under test: the options without it, so nothing exports anywhere.
  // The policy is the deployed one, deploy/mesh-policy.yaml, as the function loads it.
  const { telemetry: _telemetry, ...options } = inventoryOptions({
    OTLP_TRACES_ENDPOINT: 'unused',
    MESH_POLICY_DIR: join(import.meta.dirname, '..', 'deploy', 'mesh-policy.yaml'),
  });
  const mesh = createMesh({ ...options, logging: { destination: logs.destination } }, [
    telemetry,
    auth,
    outbound,
    http,
    traffic,
    istio,
  ]);
  const stock = createStockTable();
  const server = {
    port: 0,
    shutdownSignals: false,
    exitOnShutdown: false,
    tls: { ca, cert: own.cert, key: own.key, requestCert: true, rejectUnauthorized: true },
  } as const;
  servers = [
    knative(mesh, createInventoryHandler(stock), server),
    knative.cloudevents(mesh, createStockEventsHandler(stock), server),
  ];
  [stockUrl, eventsUrl] = (await Promise.all(servers.map((entry) => entry.listen()))).map(
    ({ url }) => url,
  ) as [string, string];
  await mesh.ready();
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

describe('inventory (functions/inventory.ts) on Knative, over mTLS', () => {
  it('answers orders and the warehouse, naming the caller from its certificate (ctx.peer)', async () => {
    const asOrders = await send(`${stockUrl}/stock/book-42`, clients.orders);
    expect(asOrders).toEqual({
      status: 200,
      body: { sku: 'book-42', available: 12, servedBy: 'inventory', caller: spiffe.orders },
    });
    const asWarehouse = await send(`${stockUrl}/stock/book-42`, clients.warehouse);
    expect(asWarehouse.body.caller).toBe(spiffe.warehouse);
  });

  it('refuses a valid mesh certificate that is not on the stock-readers list with 403', async () => {
    const asPayments = await send(`${stockUrl}/stock/book-42`, clients.payments);
    expect(asPayments.status).toBe(403);
    expect(asPayments.body.code).toBe('SCL_ERR_FORBIDDEN');
    expect(logs.withMessage('request denied').at(-1)).toMatchObject({
      reason: 'policy_denied',
      peer: 'cluster.local/ns/shop/sa/payments',
    });
  });

  it('refuses a client without a certificate at the TLS handshake', async () => {
    await expect(send(`${stockUrl}/stock/book-42`, undefined)).rejects.toThrow();
  });

  it('applies a stock adjustment event, and the next stock query sees it', async () => {
    expect((await send(`${stockUrl}/stock/poster-1`, clients.orders)).body.available).toBe(0);
    expect((await stockEvent({ sku: 'poster-1', delta: 5 }, 'adjust-1')).status).toBe(202);
    expect((await send(`${stockUrl}/stock/poster-1`, clients.orders)).body.available).toBe(5);
  });

  it('refuses with 400 an adjustment below zero or without a sku and an integer delta, changing nothing', async () => {
    const before = (await send(`${stockUrl}/stock/mug-7`, clients.orders)).body.available;
    const belowZero = await stockEvent({ sku: 'mug-7', delta: -100 }, 'adjust-2');
    expect(belowZero.status).toBe(400);
    expect(belowZero.body.code).toBe('SCL_ERR_BAD_STOCK_EVENT');
    expect(String(belowZero.body.detail)).toMatch(/mug-7 has 3 in stock; it cannot go down by 100/);
    const malformed = await stockEvent({ sku: 'mug-7', delta: '2' }, 'adjust-3');
    expect(malformed.status).toBe(400);
    expect(String(malformed.body.detail)).toMatch(/needs data/);
    expect((await send(`${stockUrl}/stock/mug-7`, clients.orders)).body.available).toBe(before);
  });
});
