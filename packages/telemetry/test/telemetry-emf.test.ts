/**
 * CloudWatch EMF on Lambda carries more than the invocation metrics: an invocation's outbound
 * attempts (by upstream and result code), its retries and an auth refusal get EMF lines of their
 * own, with the Prometheus labels as dimensions — through a real upstream server and real JWT
 * verification, with and without tracing.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { auth } from '@sidecarless/auth';
import { createMesh, type HttpHandler, type Mesh, type MeshOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import {
  captureLogs,
  createSigningKey,
  createUpstreamServer,
  nowSeconds,
  type UpstreamServer,
} from '@sidecarless/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

let upstream: UpstreamServer;
let mesh: Mesh | undefined;

beforeEach(async () => {
  upstream = await createUpstreamServer({ name: 'inventory' });
});

afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
  await upstream.close();
  trace.disable();
  context.disable();
  propagation.disable();
});

type EmfLine = Record<string, unknown> & {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
};

const tracingVariants: [string, MeshOptions['telemetry']][] = [
  ['without tracing', { metrics: { exporter: 'emf', namespace: 'Shop' }, logging: { accessLog: false } }],
  [
    'with tracing',
    {
      tracing: { exporter: new InMemorySpanExporter() },
      metrics: { exporter: 'emf', namespace: 'Shop' },
      logging: { accessLog: false },
    },
  ],
];

describe.each(tracingVariants)('EMF lines %s', (_variant, section) => {
  it('report each invocation’s upstream attempts, retries and auth refusals', async () => {
    const key = createSigningKey('ES256');
    const logs = captureLogs();
    mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        telemetry: section,
        auth: {
          jwt: [
            { issuer: 'https://id.test', jwks: { keys: [key.jwk] }, audiences: ['orders'], required: true },
          ],
        },
        upstreams: {
          inventory: {
            url: upstream.url,
            retries: { attempts: 2, retryOn: ['5xx'], backoff: { baseInterval: 1 } },
          },
        },
      },
      [telemetry, auth, outbound, http],
    );
    const now = nowSeconds();
    const token = await key.sign({
      iss: 'https://id.test',
      aud: 'orders',
      sub: 'alice',
      iat: now,
      exp: now + 60,
    });
    const handler: HttpHandler = async (_request, ctx) => {
      const stock = await ctx.upstream('inventory').fetch('/stock/42');
      return new Response(await stock.text());
    };
    upstream.respond({ status: 503 }, { status: 200, body: 'in stock' });
    const authorized = new Request('http://localhost/orders', {
      headers: { authorization: `Bearer ${token}` },
    });
    const served = await invoke(mesh, handler, authorized, { invocationId: 'inv-served' });
    expect(await served.text()).toBe('in stock');
    const refused = await invoke(mesh, handler, 'http://localhost/orders', { invocationId: 'inv-refused' });
    expect(refused.status).toBe(401);

    const lines = logs.lines().filter((line) => '_aws' in line) as EmfLine[];
    const of = (id: string) => lines.filter((line) => line.invocation_id === id);
    const metricOf = (line: EmfLine) => line._aws.CloudWatchMetrics[0]!.Metrics[0]!.Name;

    const served_ = of('inv-served');
    const requests = served_.filter((line) => metricOf(line) === 'serverless_upstream_requests_total');
    expect(
      requests.map((line) => [line.upstream, line.code, line.serverless_upstream_requests_total]),
    ).toEqual([
      ['inventory', '503', 1],
      ['inventory', '200', 1],
    ]);
    expect(requests[0]!._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Shop',
      Dimensions: [['function', 'upstream', 'code']],
    });
    const retries = served_.filter((line) => metricOf(line) === 'serverless_upstream_retries_total');
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({
      function: 'orders',
      upstream: 'inventory',
      serverless_upstream_retries_total: 1,
    });
    expect(retries[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['function', 'upstream']]);
    expect(served_.filter((line) => 'serverless_function_invocations_total' in line)).toHaveLength(1);
    expect(served_).toHaveLength(4);

    const refused_ = of('inv-refused');
    expect(refused_).toHaveLength(2);
    const denied = refused_.find((line) => metricOf(line) === 'serverless_auth_denied_total')!;
    expect(denied).toMatchObject({
      function: 'orders',
      reason: 'token_missing',
      serverless_auth_denied_total: 1,
    });
    expect(denied._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['function', 'reason']]);
    // A refusal is the caller's mistake: counted as denied, not as a function error.
    expect(refused_.find((line) => 'serverless_function_invocations_total' in line)).toMatchObject({
      serverless_function_errors_total: 0,
    });
    // Nothing leaks into the lines: no token, no upstream URL.
    expect(logs.raw.join('')).not.toContain(token);
  });

  it('writes only the invocation line for an invocation without outbound calls or refusals', async () => {
    const logs = captureLogs();
    mesh = createMesh({ service: 'orders', logging: { destination: logs.destination }, telemetry: section }, [
      telemetry,
    ]);
    await invoke(mesh, () => new Response('ok'), 'http://localhost/', { invocationId: 'inv-plain' });
    await invoke(mesh, () => new Response('ok'), 'http://localhost/', { invocationId: 'inv-plain-2' });
    const lines = logs.lines().filter((line) => '_aws' in line);
    expect(lines.map((line) => line.invocation_id)).toEqual(['inv-plain', 'inv-plain-2']);
  });
});
