/**
 * Routed calls as telemetry sees them: the CLIENT span of each attempt names the route and the
 * subset, an injected abort is an attempt of its own (a CLIENT span marked `sidecarless.fault:
 * abort` with the injected status), and the upstream metrics count it. A real upstream and a
 * real OTLP/HTTP receiver on 127.0.0.1; the calls run inside local invocations.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh, type MeshOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { telemetry } from '@sidecarless/telemetry';
import { freePort, type OtlpReceiver, OtlpSpanKind, startOtlpReceiver } from '@sidecarless/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

let receiver: OtlpReceiver;
let server: Server;
let url: string;
/** A mirror target that answers 500 to every copy. */
let failing: Server;
let failingUrl: string;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
  server = createServer((_request, response) => response.end('ok'));
  failing = createServer((_request, response) => {
    response.statusCode = 500;
    response.end('broken');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await receiver.close();
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => failing.close(resolve));
});

it('CLIENT spans carry the route, the subset and injected faults', async () => {
  const mesh = createMesh(
    {
      service: 'checkout',
      logging: { level: 'silent' },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
      upstreams: {
        payments: {
          url,
          retries: { attempts: 0 },
          subsets: [{ name: 'v2', url }],
          http: [
            {
              name: 'drill',
              match: [{ uri: { prefix: '/drill' } }],
              fault: { abort: { httpStatus: 503 } },
              route: [{ destination: { subset: 'v2' } }],
            },
            { name: 'canary', route: [{ destination: { subset: 'v2' } }] },
          ],
        },
      },
    } as MeshOptions,
    [telemetry, outbound, http, traffic],
  );
  const statuses: number[] = [];
  for (const path of ['/pay', '/drill']) {
    await invoke(
      mesh,
      async (_request, ctx) => {
        const response = await ctx.upstream('payments').fetch(path);
        statuses.push(response.status);
        return new Response(await response.text());
      },
      'http://localhost/checkout',
    );
  }
  await mesh.flush();
  expect(statuses).toEqual([200, 503]);
  const clients = receiver.spans.filter((span) => span.kind === OtlpSpanKind.client);
  expect(clients).toHaveLength(2);
  expect(clients[0]!.attributes).toMatchObject({
    'sidecarless.route': 'canary',
    'sidecarless.subset': 'v2',
    'http.response.status_code': 200,
  });
  expect(clients[1]!.attributes).toMatchObject({
    'sidecarless.route': 'drill',
    'sidecarless.fault': 'abort',
    'http.response.status_code': 503,
  });
  await mesh.close();
});

it('counts routed attempts by route, subset and fault, and mirrored copies by outcome', async () => {
  const metricsPort = await freePort();
  const mesh = createMesh(
    {
      service: 'checkout',
      logging: { level: 'silent' },
      telemetry: {
        tracing: { exporter: 'otlp', endpoint: receiver.url },
        metrics: { exporter: 'prometheus', port: metricsPort },
      },
      upstreams: {
        payments: {
          url,
          retries: { attempts: 0 },
          subsets: [{ name: 'v2', url }],
          http: [
            {
              name: 'drill',
              match: [{ uri: { prefix: '/drill' } }],
              fault: { abort: { httpStatus: 503 } },
              route: [{ destination: { subset: 'v2' } }],
            },
            {
              name: 'slow',
              match: [{ uri: { prefix: '/slow' } }],
              fault: { delay: { fixedDelay: '20ms', percentage: { value: 100 } } },
              route: [{ destination: {} }],
            },
            { name: 'canary', route: [{ destination: { subset: 'v2' } }], mirror: { host: 'shadow' } },
          ],
        },
        shadow: { url: failingUrl, retries: { attempts: 0 } },
      },
    } as MeshOptions,
    [telemetry, outbound, http, traffic],
  );
  const started = performance.now();
  for (const path of ['/pay', '/pay', '/drill', '/slow']) {
    await invoke(
      mesh,
      async (_request, ctx) => new Response(await (await ctx.upstream('payments').fetch(path)).text()),
      'http://localhost/checkout',
    );
  }
  await mesh.flush();
  // The delayed call waited its 20 ms.
  expect(performance.now() - started).toBeGreaterThanOrEqual(20);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const value = (line: string) => metrics.split('\n').find((candidate) => candidate.startsWith(line));
  expect(
    value(
      'serverless_upstream_route_requests_total{function="checkout",upstream="payments/v2",route="canary",subset="v2",fault="none"}',
    ),
  ).toMatch(/ 2$/);
  expect(
    value(
      'serverless_upstream_route_requests_total{function="checkout",upstream="payments/v2",route="drill",subset="v2",fault="abort"}',
    ),
  ).toMatch(/ 1$/);
  expect(
    value(
      'serverless_upstream_route_requests_total{function="checkout",upstream="payments",route="slow",subset="unknown",fault="delay"}',
    ),
  ).toMatch(/ 1$/);
  const delayed = receiver.spans.filter((span) => span.attributes['sidecarless.fault'] === 'delay');
  expect(delayed.map((span) => span.attributes['sidecarless.route'])).toEqual(['slow']);
  expect(
    value('serverless_upstream_mirrors_total{function="checkout",upstream="shadow",outcome="sent"}'),
  ).toMatch(/ 2$/);
  expect(
    value('serverless_upstream_mirrors_total{function="checkout",upstream="shadow",outcome="failed"}'),
  ).toMatch(/ 2$/);
  // The copies are CLIENT spans of their own, marked as mirrors, outside the route counts.
  const copies = receiver.spans.filter(
    (span) => span.kind === OtlpSpanKind.client && span.attributes['sidecarless.mirror'] === true,
  );
  expect(copies.map((span) => span.attributes['sidecarless.upstream'])).toEqual(['shadow', 'shadow']);
  expect(copies.every((span) => span.attributes['sidecarless.route'] === undefined)).toBe(true);
  await mesh.close();
});
