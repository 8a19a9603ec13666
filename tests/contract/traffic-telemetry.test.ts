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
import { type OtlpReceiver, OtlpSpanKind, startOtlpReceiver } from '@sidecarless/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';

let receiver: OtlpReceiver;
let server: Server;
let url: string;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
  server = createServer((_request, response) => response.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await receiver.close();
  await new Promise((resolve) => server.close(resolve));
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
