/**
 * A chain of functions shares one budget: `orders` (in-process) calls `payments` (a real HTTP
 * server built on the shared Node server) through the outbound client, which sends what is left
 * of the invocation's deadline; `payments` has `invocation.callerDeadline` on, so its own
 * deadline — and the moment its `ctx.signal` fires — follow the caller's, not its own 30 s.
 */
import { createMesh, type Mesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { createNodeServer, type NodeServer, serveHttp } from '@sidecarless/core/node-server';
import { captureLogs } from '@sidecarless/testing';
import { afterEach, expect, it } from 'vitest';
import { http } from '../src/http.ts';
import { outbound } from '../src/index.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function startPayments(callerDeadline: boolean): Promise<{ url: string; server: NodeServer }> {
  const payments: Mesh = createMesh({
    service: 'payments',
    logging: { destination: captureLogs().destination },
    invocation: { timeout: '30s', callerDeadline },
  });
  const server = createNodeServer(
    payments,
    serveHttp(
      payments,
      (_request, ctx) => Response.json({ budgetMs: ctx.deadline - Date.now() }),
      () => ({
        platform: 'test',
      }),
    ),
    { port: 0, shutdownSignals: false },
  );
  const { url } = await server.listen();
  closers.push(() => server.close());
  return { url, server };
}

async function budgetSeenDownstream(paymentsUrl: string): Promise<number> {
  const orders = createMesh(
    {
      service: 'orders',
      logging: { destination: captureLogs().destination },
      upstreams: { payments: { url: paymentsUrl, deadlineMargin: 0 } },
    },
    [outbound, http],
  );
  closers.push(() => orders.close());
  const response = await invoke(
    orders,
    async (_request, ctx) => ctx.upstream('payments').fetch('/charge', { method: 'POST', body: '{}' }),
    'http://localhost/orders',
    { timeout: '1500ms' },
  );
  return ((await response.json()) as { budgetMs: number }).budgetMs;
}

it('gives the callee the caller’s remaining budget when callerDeadline is on', async () => {
  const { url } = await startPayments(true);
  const budget = await budgetSeenDownstream(url);
  expect(budget).toBeGreaterThan(1_000);
  expect(budget).toBeLessThanOrEqual(1_500);
});

it('keeps the callee’s own deadline when callerDeadline is off', async () => {
  const { url } = await startPayments(false);
  expect(await budgetSeenDownstream(url)).toBeGreaterThan(25_000);
});
