import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { auth } from '@sidecarless/auth';
import { createMesh, type HttpHandler, type Mesh, type MeshOptions } from '@sidecarless/core';
import { prepareEvent, prepareHttp } from '@sidecarless/core/adapter';
import { invoke } from '@sidecarless/core/local';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import {
  captureLogs,
  type OtlpReceiver,
  OtlpSpanKind,
  resetColdStart,
  startOtlpReceiver,
} from '@sidecarless/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { telemetry, telemetry as telemetryFeature } from '../src/index.ts';

let receiver: OtlpReceiver;
const meshes: Mesh[] = [];

function tracedMesh(service: string, extra: MeshOptions['telemetry'] = {}, logs = captureLogs()) {
  const mesh = createMesh(
    {
      service,
      logging: { destination: logs.destination },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url }, ...extra },
    },
    [telemetry, auth, outbound, http],
  );
  meshes.push(mesh);
  return { mesh, logs };
}

beforeEach(async () => {
  resetColdStart();
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  for (const mesh of meshes.splice(0)) await mesh.close();
  await receiver.close();
  // The api's globals are process-wide: each test starts without a registered provider.
  trace.disable();
  context.disable();
  propagation.disable();
});

describe('tracing through a real OTLP/HTTP receiver', () => {
  it('exports a SERVER span with the FaaS and HTTP attributes', async () => {
    const { mesh } = tracedMesh('orders');
    const response = await invoke(
      mesh,
      () => new Response('ok', { status: 201 }),
      'http://localhost/orders/7?token=not-hex-zq',
      {
        invocationId: 'inv-1',
      },
    );
    expect(response.status).toBe(201);
    await mesh.flush();
    const [span] = await receiver.waitForSpans(1);
    expect(span!.kind).toBe(OtlpSpanKind.server);
    expect(span!.name).toBe('GET');
    expect(span!.parentSpanId).toBeUndefined();
    expect(span!.resource['service.name']).toBe('orders');
    expect(span!.attributes).toMatchObject({
      'faas.trigger': 'http',
      'faas.invocation_id': 'inv-1',
      'faas.coldstart': true,
      'faas.name': 'orders',
      'http.request.method': 'GET',
      'url.path': '/orders/7',
      'http.response.status_code': 201,
    });
    // The query string (which may carry a token) is never exported.
    expect(JSON.stringify(span)).not.toContain('not-hex-zq'); // ('abc' could occur in a random hex id)
    expect(span!.status.code).toBe(0);
  });

  it('sends the configured exporter headers with every export', async () => {
    const mesh = createMesh(
      {
        service: 'vendor',
        logging: { level: 'silent' },
        telemetry: {
          tracing: { exporter: 'otlp', endpoint: receiver.url, headers: { 'x-honeycomb-team': 'team-key' } },
        },
      },
      [telemetry],
    );
    meshes.push(mesh);
    await invoke(mesh, () => new Response('ok'), 'http://localhost/');
    await mesh.flush();
    await receiver.waitForSpans(1);
    expect(receiver.requestHeaders[0]!['x-honeycomb-team']).toBe('team-key');
    expect(receiver.requestHeaders[0]!['content-type']).toBe('application/json');
  });

  it('joins two functions into one trace with the right parent and child links', async () => {
    const { mesh: backend } = tracedMesh('inventory');
    const { mesh: frontend } = tracedMesh('storefront');
    const inventory: HttpHandler = () => Response.json({ stock: 3 });
    const storefront: HttpHandler = async (_request, ctx) => {
      const url = new URL('http://inventory.local/stock/42');
      const client = ctx.telemetry!.startClientSpan({
        upstream: 'inventory',
        method: 'GET',
        url,
        attempt: 0,
      });
      const headers = new Headers();
      client.inject(headers);
      const answer = await invoke(backend, inventory, new Request(url, { headers }));
      client.end({ status: answer.status });
      return Response.json(await answer.json());
    };

    const response = await invoke(
      frontend,
      storefront,
      new Request('http://localhost/buy', { method: 'POST' }),
    );
    expect(await response.json()).toEqual({ stock: 3 });
    await Promise.all([frontend.flush(), backend.flush()]);
    const spans = await receiver.waitForSpans(3);

    const server = spans.find(
      (s) => s.resource['service.name'] === 'storefront' && s.kind === OtlpSpanKind.server,
    )!;
    const client = spans.find((s) => s.kind === OtlpSpanKind.client)!;
    const downstream = spans.find((s) => s.resource['service.name'] === 'inventory')!;
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect(server.parentSpanId).toBeUndefined();
    expect(client.parentSpanId).toBe(server.spanId);
    expect(downstream.parentSpanId).toBe(client.spanId);
    expect(downstream.kind).toBe(OtlpSpanKind.server);
    expect(client.attributes).toMatchObject({
      'server.address': 'inventory.local',
      'http.response.status_code': 200,
      'http.request.resend_count': 0,
    });
  });

  it('bounds mesh.flush by its budget when the collector never answers', async () => {
    // A real collector endpoint that accepts the export and then hangs.
    const held: ServerResponse[] = [];
    const hanging = createServer((_request, response) => held.push(response));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const { port } = hanging.address() as AddressInfo;
    try {
      const mesh = createMesh(
        {
          service: 'stuck',
          logging: { level: 'silent' },
          telemetry: {
            tracing: {
              exporter: 'otlp',
              endpoint: `http://127.0.0.1:${port}/v1/traces`,
              exportTimeout: '5s',
            },
          },
        },
        [telemetry],
      );
      meshes.push(mesh);
      await invoke(mesh, () => new Response('ok'), 'http://localhost/');
      const started = performance.now();
      await mesh.flush(300);
      const took = performance.now() - started;
      expect(took).toBeGreaterThanOrEqual(250);
      expect(took).toBeLessThan(1_500);
      expect(held.length).toBeGreaterThanOrEqual(1); // the export did reach the collector
    } finally {
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging.close(resolve));
    }
  });

  it('exports exactly one span per invocation over 1,000 invocations', async () => {
    const { mesh } = tracedMesh('bulk', { logging: { accessLog: false } });
    const handler: HttpHandler = () => new Response('ok');
    for (let i = 0; i < 1_000; i++) await invoke(mesh, handler, 'http://localhost/bulk');
    await mesh.flush(5_000);
    const spans = await receiver.waitForSpans(1_000, 15_000);
    await sleep(200); // anything extra would have arrived by now
    expect(spans).toHaveLength(1_000);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(1_000);
  });

  it('ends a past-deadline invocation span as timed out and counts it', async () => {
    const logs = captureLogs();
    const { mesh } = tracedMesh(
      'slow',
      { metrics: { exporter: 'prometheus', port: 0 }, timeoutMargin: '100ms' },
      logs,
    );
    let finished = false;
    let markDone!: () => void;
    const handlerDone = new Promise<void>((resolve) => {
      markDone = resolve;
    });
    const handler: HttpHandler = async () => {
      // Long enough that, even on a loaded machine, the span is exported before this returns.
      await sleep(2_500);
      finished = true;
      markDone();
      return new Response('too late');
    };
    const response = await invoke(mesh, handler, 'http://localhost/slow', { timeout: '300ms' });
    expect(response.status).toBe(504);
    // The span is exported while the handler is still running: the platform would kill it here.
    const [span] = await receiver.waitForSpans(1, 3_000);
    expect(finished).toBe(false);
    expect(span!.status.code).toBe(2);
    expect(span!.attributes).toMatchObject({ 'error.type': 'timeout', 'faas.timeout': true });
    const access = logs.withMessage('access');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({ status: 504, timed_out: true, trace_id: span!.traceId });
    await handlerDone;
    expect(finished).toBe(true);
    await mesh.flush();
    expect(receiver.spans).toHaveLength(1);
  });

  it('continues an incoming W3C trace and follows its sampling decision', async () => {
    const { mesh, logs } = tracedMesh('child');
    const handler: HttpHandler = (_request, ctx) => {
      ctx.log.info('inside');
      return new Response('ok');
    };
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const unsampled = '00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00';
    await invoke(
      mesh,
      handler,
      new Request('http://localhost/', { headers: { traceparent: parent, tracestate: 'vendor=x' } }),
    );
    await invoke(mesh, handler, new Request('http://localhost/', { headers: { traceparent: unsampled } }));
    await mesh.flush();
    const spans = await receiver.waitForSpans(1);
    await sleep(100);
    expect(spans).toHaveLength(1);
    expect(spans[0]!.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(spans[0]!.parentSpanId).toBe('b7ad6b7169203331');
    const inside = logs.withMessage('inside');
    expect(inside[0]).toMatchObject({
      trace_id: '0af7651916cd43dd8448eb211c80319c',
      span_id: spans[0]!.spanId,
      trace_flags: '01',
    });
    // The unsampled invocation still correlates its logs with the caller's trace.
    expect(inside[1]).toMatchObject({ trace_id: '1af7651916cd43dd8448eb211c80319c', trace_flags: '00' });
  });

  it('samples new traces at Istio randomSamplingPercentage 0 and keeps every log line correlated', async () => {
    const { mesh, logs } = tracedMesh('quiet', {});
    const quiet = createMesh(
      {
        service: 'quiet',
        logging: { destination: logs.destination },
        telemetry: {
          tracing: { exporter: 'otlp', endpoint: receiver.url, sampling: { randomSamplingPercentage: 0 } },
        },
      },
      [telemetry],
    );
    meshes.push(quiet);
    for (let i = 0; i < 20; i++) await invoke(quiet, () => new Response('ok'), 'http://localhost/');
    await invoke(mesh, () => new Response('ok'), 'http://localhost/');
    await Promise.all([quiet.flush(), mesh.flush()]);
    await receiver.waitForSpans(1);
    await sleep(100);
    expect(receiver.spans).toHaveLength(1);
    const access = logs.withMessage('access');
    expect(access).toHaveLength(21);
    for (const line of access) expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('takes parent, batch links and cloud facts from the adapter', async () => {
    const { mesh } = tracedMesh('queue-worker');
    const run = prepareEvent(mesh, async () => 'done');
    await mesh.ready();
    const result = await run(
      { Records: [] },
      {
        platform: 'aws-lambda',
        trigger: 'pubsub',
        invocationId: 'req-9',
        telemetry: {
          kind: 'consumer',
          spanName: 'orders-queue process',
          parent: { xRay: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1' },
          links: [
            { xRay: 'Root=1-6759e988-bd862e3fe1be46a994272793;Parent=63995c3f42cd8ad8;Sampled=1' },
            { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
            { traceparent: 'garbage' },
          ],
          cloud: { provider: 'aws', region: 'eu-west-1', accountId: '123456789012' },
          faas: { name: 'queue-worker', version: '$LATEST', maxMemoryMb: 512 },
        },
      },
    );
    expect(result).toBe('done');
    await mesh.flush();
    const [span] = await receiver.waitForSpans(1);
    expect(span!.kind).toBe(OtlpSpanKind.consumer);
    expect(span!.name).toBe('orders-queue process');
    expect(span!.traceId).toBe('5759e988bd862e3fe1be46a994272793');
    expect(span!.parentSpanId).toBe('53995c3f42cd8ad8');
    expect(span!.links).toEqual([
      { traceId: '6759e988bd862e3fe1be46a994272793', spanId: '63995c3f42cd8ad8' },
      { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' },
    ]);
    expect(span!.attributes).toMatchObject({
      'faas.trigger': 'pubsub',
      'faas.invocation_id': 'req-9',
      'faas.version': '$LATEST',
      'faas.max_memory': 512 * 1024 * 1024,
      'cloud.provider': 'aws',
      'cloud.region': 'eu-west-1',
      'cloud.account.id': '123456789012',
    });
  });

  it('marks a failed invocation span as an error with the error type only', async () => {
    const { mesh } = tracedMesh('failing');
    const run = prepareHttp(mesh, () => {
      throw new Error('database password is hunter2');
    });
    const response = await run(new Request('http://localhost/'), { platform: 'knative' });
    expect(response.status).toBe(500);
    await mesh.flush();
    const [span] = await receiver.waitForSpans(1);
    expect(span!.status).toEqual({ code: 2, message: 'Error' });
    expect(span!.attributes['http.response.status_code']).toBe(500);
    expect(JSON.stringify(span)).not.toContain('hunter2');
  });
});

describe('exporters and span processors the application passes', () => {
  it('hands the invocation spans to an exporter object, flushed by mesh.flush', async () => {
    const exporter = new InMemorySpanExporter();
    const mesh = createMesh(
      {
        service: 'vendor-exporter',
        logging: { level: 'silent' },
        telemetry: { tracing: { exporter } },
      },
      [telemetry],
    );
    meshes.push(mesh);
    await invoke(mesh, () => new Response('ok', { status: 202 }), 'http://localhost/jobs');
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await mesh.flush();
    const [span] = exporter.getFinishedSpans();
    expect(span!.name).toBe('GET');
    expect(span!.resource.attributes['service.name']).toBe('vendor-exporter');
    expect(span!.attributes).toMatchObject({
      'faas.name': 'vendor-exporter',
      'http.response.status_code': 202,
    });
    expect(span!.instrumentationScope.name).toBe('@sidecarless/core');
  });

  it("hands a span processor (the SDK's batch processor) every span, exported at mesh.flush", async () => {
    const exporter = new InMemorySpanExporter();
    const mesh = createMesh(
      {
        service: 'batched-processor',
        logging: { level: 'silent' },
        telemetry: {
          // A long delay: only the mesh's flush gets these spans out.
          tracing: { spanProcessor: new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60_000 }) },
        },
      },
      [telemetryFeature],
    );
    meshes.push(mesh);
    const response = await invoke(
      mesh,
      () => {
        trace.getTracer('orders-app').startSpan('load order').end();
        return new Response('ok');
      },
      'http://localhost/orders',
    );
    expect(response.status).toBe(200);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await mesh.flush();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name).sort()).toEqual(['GET', 'load order']);
    const server = spans.find((span) => span.name === 'GET')!;
    const child = spans.find((span) => span.name === 'load order')!;
    expect(child.spanContext().traceId).toBe(server.spanContext().traceId);
    expect(child.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(server.resource.attributes['service.name']).toBe('batched-processor');
    expect(server.attributes['http.response.status_code']).toBe(200);
    expect(server.ended).toBe(true);
  });

  it("calls a span processor's onStart with the started span and its parent context, and onEnd once", async () => {
    const started: { name: string; faasName: unknown; parentSpanId: string | undefined }[] = [];
    const ended: string[] = [];
    const processor: SpanProcessor = {
      onStart: (span, parentContext) => {
        started.push({
          name: (span as unknown as ReadableSpan).name,
          faasName: (span as unknown as ReadableSpan).attributes['faas.name'],
          parentSpanId: trace.getSpanContext(parentContext)?.spanId,
        });
      },
      onEnd: (span) => void ended.push(span.name),
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const mesh = createMesh(
      {
        service: 'start-hooks',
        logging: { level: 'silent' },
        telemetry: { tracing: { spanProcessor: processor } },
      },
      [telemetryFeature],
    );
    meshes.push(mesh);
    let serverSpanId: string | undefined;
    await invoke(
      mesh,
      (_request, ctx) => {
        serverSpanId = ctx.telemetry!.span!.spanContext().spanId;
        trace.getTracer('orders-app').startSpan('load order').end();
        return new Response('ok');
      },
      'http://localhost/',
    );
    expect(started).toEqual([
      { name: 'GET', faasName: 'start-hooks', parentSpanId: undefined },
      { name: 'load order', faasName: undefined, parentSpanId: serverSpanId },
    ]);
    expect(ended).toEqual(['load order', 'GET']);
  });

  it('keeps the invocation whole when a span processor throws, and still feeds the exporter', async () => {
    const exporter = new InMemorySpanExporter();
    const failing: SpanProcessor = {
      onStart: () => {
        throw new Error('processor bug on start');
      },
      onEnd: () => {
        throw new Error('processor bug on end');
      },
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const mesh = createMesh(
      {
        service: 'failing-processor',
        logging: { level: 'silent' },
        telemetry: { tracing: { spanProcessor: failing, exporter } },
      },
      [telemetryFeature],
    );
    meshes.push(mesh);
    const response = await invoke(mesh, () => new Response('ok'), 'http://localhost/');
    expect(response.status).toBe(200);
    await mesh.flush();
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['GET']);
  });

  it("runs the invocation spans through a span processor (the SDK's simple processor)", async () => {
    const exporter = new InMemorySpanExporter();
    const mesh = createMesh(
      {
        service: 'processor',
        logging: { level: 'silent' },
        telemetry: { tracing: { spanProcessor: new SimpleSpanProcessor(exporter) } },
      },
      [telemetryFeature],
    );
    meshes.push(mesh);
    await invoke(mesh, () => new Response('ok'), 'http://localhost/');
    await mesh.flush();
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes['faas.name']).toBe('processor');
    expect(span!.resource.attributes['service.name']).toBe('processor');
  });

  it('makes the invocation span active for handler code and exports its children', async () => {
    const { mesh } = tracedMesh('handler-spans');
    const response = await invoke(
      mesh,
      async (_request, ctx) => {
        await sleep(1);
        expect(trace.getActiveSpan()).toBe(ctx.telemetry!.span);
        const child = trace.getTracer('orders-app').startSpan('load order');
        child.end();
        return new Response('ok');
      },
      'http://localhost/orders',
    );
    expect(response.status).toBe(200);
    await mesh.flush();
    const spans = await receiver.waitForSpans(2);
    const server = spans.find((span) => span.kind === OtlpSpanKind.server)!;
    const child = spans.find((span) => span.name === 'load order')!;
    expect(child.traceId).toBe(server.traceId);
    expect(child.parentSpanId).toBe(server.spanId);
    expect(child.kind).toBe(OtlpSpanKind.internal);
  });
});

describe('an application that registered its own tracer provider', () => {
  it('gets the invocation spans in its provider, flushed by mesh.flush', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      // A long delay: only a flush gets these spans out.
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60_000 })],
    });
    trace.setGlobalTracerProvider(provider);
    const { mesh } = tracedMesh('app-owned');
    await invoke(mesh, () => new Response('ok'), 'http://localhost/');
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    await mesh.flush();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(exporter.getFinishedSpans()[0]!.attributes['faas.name']).toBe('app-owned');
    expect(receiver.requests).toBe(0);
    await provider.shutdown();
  });
});
