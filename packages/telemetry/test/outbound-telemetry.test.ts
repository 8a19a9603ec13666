import { context, propagation, trace } from '@opentelemetry/api';
import { createMesh, type Mesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import {
  captureLogs,
  createUpstreamServer,
  freePort,
  type OtlpReceiver,
  OtlpSpanKind,
  startOtlpReceiver,
  type UpstreamServer,
} from '@sidecarless/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

let receiver: OtlpReceiver;
let upstream: UpstreamServer;
let mesh: Mesh | undefined;

beforeEach(async () => {
  receiver = await startOtlpReceiver();
  upstream = await createUpstreamServer({ name: 'inventory' });
});

afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
  await Promise.all([receiver.close(), upstream.close()]);
  trace.disable();
  context.disable();
  propagation.disable();
});

it('traces each attempt as a CLIENT span, propagates it, and counts requests and retries', async () => {
  const metricsPort = await freePort();
  mesh = createMesh(
    {
      service: 'orders',
      logging: { destination: captureLogs().destination },
      telemetry: {
        tracing: { exporter: 'otlp', endpoint: receiver.url },
        metrics: { exporter: 'prometheus', port: metricsPort },
      },
      upstreams: {
        inventory: {
          url: upstream.url,
          retries: { attempts: 2, retryOn: ['5xx'], backoff: { baseInterval: 1 } },
        },
      },
    },
    [telemetry, outbound, http],
  );
  upstream.respond({ status: 503 }, { status: 200, body: 'in stock' });
  const response = await invoke(
    mesh,
    async (_request, ctx) => {
      const stock = await ctx.upstream('inventory').fetch('/stock/42');
      return new Response(await stock.text());
    },
    'http://localhost/orders',
  );
  expect(await response.text()).toBe('in stock');
  await mesh.flush();

  const spans = await receiver.waitForSpans(3);
  const server = spans.find((span) => span.kind === OtlpSpanKind.server)!;
  const clients = spans.filter((span) => span.kind === OtlpSpanKind.client);
  expect(clients).toHaveLength(2);
  for (const client of clients) {
    expect(client.traceId).toBe(server.traceId);
    expect(client.parentSpanId).toBe(server.spanId);
    expect(client.attributes['sidecarless.upstream']).toBe('inventory');
  }
  const byAttempt = [...clients].sort(
    (a, b) =>
      Number(a.attributes['http.request.resend_count']) - Number(b.attributes['http.request.resend_count']),
  );
  expect(byAttempt.map((span) => span.attributes['http.response.status_code'])).toEqual([503, 200]);
  expect(byAttempt[0]!.status.code).toBe(2);

  // The upstream saw each attempt's own CLIENT span as its parent.
  expect(upstream.requests).toHaveLength(2);
  upstream.requests.forEach((request, index) => {
    expect(request.headers.traceparent).toBe(`00-${server.traceId}-${byAttempt[index]!.spanId}-01`);
  });

  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(metrics).toMatch(
    /serverless_upstream_requests_total\{[^}]*upstream="inventory"[^}]*code="503"[^}]*\} 1/,
  );
  expect(metrics).toMatch(
    /serverless_upstream_requests_total\{[^}]*upstream="inventory"[^}]*code="200"[^}]*\} 1/,
  );
  expect(metrics).toMatch(/serverless_upstream_retries_total\{[^}]*upstream="inventory"[^}]*\} 1/);
});

it('reports the circuit opening in the serverless_upstream_circuit_open gauge', async () => {
  const metricsPort = await freePort();
  mesh = createMesh(
    {
      service: 'orders',
      logging: { destination: captureLogs().destination },
      telemetry: { metrics: { exporter: 'prometheus', port: metricsPort } },
      upstreams: {
        inventory: {
          url: upstream.url,
          retries: { attempts: 0 },
          circuitBreaker: { consecutiveFailures: 2, halfOpenAfter: '30s' },
        },
      },
    },
    [telemetry, outbound, http],
  );
  upstream.fallback = { status: 500 };
  const handler = async (_request: Request, ctx: import('@sidecarless/core').MeshContext) => {
    const result = await ctx
      .upstream('inventory')
      .fetch('/stock')
      .then(
        (r) => String(r.status),
        (error: { code?: string }) => error.code ?? 'error',
      );
    return new Response(result);
  };
  const outcomes: string[] = [];
  for (let i = 0; i < 3; i++) outcomes.push(await (await invoke(mesh, handler, 'http://localhost/')).text());
  expect(outcomes).toEqual(['500', '500', 'SCL_ERR_CIRCUIT_OPEN']);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(metrics).toMatch(/serverless_upstream_circuit_open\{[^}]*upstream="inventory"[^}]*\} 1/);
});
