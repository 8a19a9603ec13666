/**
 * The OpenTelemetry SDK's current line (`@opentelemetry/sdk-node` 0.301, SDK 3.x) set up by the
 * application as the OpenTelemetry Lambda layer does — `NodeSDK` started before the handler, with
 * `@opentelemetry/instrumentation-http` and `@opentelemetry/instrumentation-undici` — and, for
 * parity, one invocation recorded by the light tracer and by the SDK's BatchSpanProcessor with the
 * official `@opentelemetry/exporter-trace-otlp-http`, each sent to a real OTLP receiver on
 * 127.0.0.1 and compared field by field (ids and times aside).
 */
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { createMesh, type HttpHandler, type Mesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import {
  captureLogs,
  createUpstreamServer,
  type ExportRequest,
  type ReceivedSpan,
  startOtlpReceiver,
  type UpstreamServer,
} from '@sidecarless/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

let upstream: UpstreamServer;
let mesh: Mesh | undefined;
let sdk: NodeSDK | undefined;

// NodeSDK also reads these; metrics and logs are not what this file is about.
process.env.OTEL_METRICS_EXPORTER = 'none';
process.env.OTEL_LOGS_EXPORTER = 'none';
process.env.OTEL_TRACES_EXPORTER = 'none';

beforeEach(async () => {
  upstream = await createUpstreamServer({ name: 'inventory' });
});

afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
  await sdk?.shutdown();
  sdk = undefined;
  await upstream.close();
  trace.disable();
  context.disable();
  propagation.disable();
});

const meshWith = (tracing: object) =>
  createMesh(
    {
      service: 'orders',
      version: '1.4.0',
      logging: { destination: captureLogs().destination },
      telemetry: { tracing },
      upstreams: { inventory: { url: upstream.url, retries: { attempts: 0 } } },
    },
    [telemetry, outbound, http],
  );

/** One invocation with everything a span can carry: child spans, events, an error status. */
const handler: HttpHandler = async (_request, ctx) => {
  const tracer = trace.getTracer('orders-app', '1.0.0');
  trace.getActiveSpan()?.addEvent('cart.loaded', { 'cart.items': 3, 'cart.gift': false });
  await tracer.startActiveSpan('price cart', { attributes: { 'cart.currency': 'EUR' } }, async (span) => {
    await sleep(1);
    span.addEvent('discount.applied', { 'discount.codes': ['WINTER', 'VIP'], 'discount.ratio': 0.15 });
    span.setStatus({ code: SpanStatusCode.OK });
    span.end();
  });
  const stock = await ctx.upstream('inventory').fetch('/stock/42', { method: 'POST', body: '{}' });
  await stock.text();
  return Response.json({ stock: stock.status }, { status: 502 });
};

const incoming = () =>
  new Request('https://orders.example/cart/checkout?session=secret', {
    method: 'POST',
    headers: {
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'user-agent': 'parity/1.0',
    },
  });

it('sends the mesh’s SERVER span into NodeSDK’s provider with the application’s spans as children, and the outbound call traced once', async () => {
  const exporter = new InMemorySpanExporter();
  sdk = new NodeSDK({
    serviceName: 'orders',
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
    instrumentations: [new HttpInstrumentation(), new UndiciInstrumentation()],
  });
  sdk.start();
  // What the layer's --require preload amounts to for `node:http` (see node-tracer-provider.test.ts).
  createRequire(import.meta.url)('node:http');
  mesh = meshWith({});
  upstream.respond({ status: 200, body: 'ok' });
  await invoke(
    mesh,
    async (_request, ctx) => {
      const outer = trace.getActiveSpan();
      await trace.getTracer('orders-app').startActiveSpan('reserve', async (span) => {
        await sleep(2);
        expect(trace.getActiveSpan()).toBe(span);
        await (await ctx.upstream('inventory').fetch('/reserve')).text();
        span.end();
      });
      expect(trace.getActiveSpan()).toBe(outer);
      return new Response('ok');
    },
    'http://localhost/cart',
  );
  await mesh.flush();
  const spans = exporter.getFinishedSpans();
  const server = spans.find(
    (s) => s.instrumentationScope.name === '@sidecarless/core' && s.kind === SpanKind.SERVER,
  )!;
  const reserve = spans.find((s) => s.name === 'reserve')!;
  expect(reserve.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
  // One CLIENT span for the call, the mesh's, a child of the application's span.
  expect(clients.map((s) => s.instrumentationScope.name)).toEqual(['@sidecarless/core']);
  expect(clients[0]!.parentSpanContext?.spanId).toBe(reserve.spanContext().spanId);
  expect(upstream.requests[0]!.headers.traceparent).toBe(
    `00-${server.spanContext().traceId}-${clients[0]!.spanContext().spanId}-01`,
  );
  // NodeSDK's resource, not the mesh's: the application owns the provider.
  expect(server.resource.attributes['telemetry.sdk.name']).toBe('opentelemetry');
});

/** A span with its ids replaced by its place in the trace, times by whether they are set. */
function shape(spans: ReceivedSpan[]) {
  const label = new Map<string, string>();
  const ordered = [...spans].sort((a, b) => a.name.localeCompare(b.name) || a.kind - b.kind);
  for (const [index, span] of ordered.entries()) label.set(span.spanId, `span ${index}`);
  return ordered.map((span) => ({
    ...span,
    // One per invocation, whoever records it.
    attributes: { ...span.attributes, 'faas.invocation_id': typeof span.attributes['faas.invocation_id'] },
    traceId: span.traceId === '4bf92f3577b34da6a3ce929d0e0e4736' ? 'the incoming trace' : span.traceId,
    spanId: label.get(span.spanId),
    parentSpanId:
      span.parentSpanId === undefined ? undefined : (label.get(span.parentSpanId) ?? span.parentSpanId),
    startTimeUnixNano: span.startTimeUnixNano !== '0',
    endTimeUnixNano: BigInt(span.endTimeUnixNano) >= BigInt(span.startTimeUnixNano),
  }));
}

/** The raw OTLP JSON of a body, with ids, times and the SDK's own name/version left out. */
function rawShape(body: Buffer) {
  const request = JSON.parse(body.toString('utf8')) as ExportRequest;
  return (request.resourceSpans ?? []).map((resourceSpans) => ({
    // telemetry.sdk.version: the OpenTelemetry SDK's version of itself; the light tracer names
    // itself (telemetry.sdk.name) and leaves the version out.
    resourceKeys: (resourceSpans.resource?.attributes ?? [])
      .map((a) => a.key)
      .filter((key) => key !== 'telemetry.sdk.version')
      .sort(),
    scopes: (resourceSpans.scopeSpans ?? [])
      .map((scopeSpans) => ({
        scope: scopeSpans.scope,
        spans: (scopeSpans.spans ?? [])
          .map((span) => Object.keys(span).sort())
          .sort((a, b) => a.join().localeCompare(b.join())),
      }))
      .sort((a, b) => String(a.scope?.name).localeCompare(String(b.scope?.name))),
  }));
}

it('gives the same OTLP spans through the light tracer and through the SDK’s BatchSpanProcessor with the official OTLP/HTTP exporter', async () => {
  const [lightReceiver, sdkReceiver] = await Promise.all([startOtlpReceiver(), startOtlpReceiver()]);
  try {
    // The light tracer: the mesh sets up tracing (no provider registered), the application's
    // spans go through it too.
    upstream.respond({ status: 503 });
    mesh = meshWith({ exporter: 'otlp', endpoint: lightReceiver.url });
    await invoke(mesh, handler, incoming());
    await mesh.flush();
    const light = await lightReceiver.waitForSpans(3);
    await mesh.close();
    mesh = undefined;
    trace.disable();
    context.disable();
    propagation.disable();

    // The SDK: the application's NodeSDK with the official exporter behind a batch processor.
    sdk = new NodeSDK({
      // The application's resource: what the SDK stamps, plus the version the mesh would give.
      resource: defaultResource().merge(resourceFromAttributes({ 'service.version': '1.4.0' })),
      serviceName: 'orders',
      autoDetectResources: false,
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: sdkReceiver.url }) })],
      instrumentations: [],
    });
    sdk.start();
    upstream.respond({ status: 503 });
    mesh = meshWith({});
    await invoke(mesh, handler, incoming());
    await mesh.flush();
    const official = await sdkReceiver.waitForSpans(3);

    expect(light).toHaveLength(3);
    expect(official).toHaveLength(3);
    const lightShape = shape(light);
    const officialShape = shape(official);
    // The resource: the same attributes but for the SDK's name and version of itself.
    for (const spans of [lightShape, officialShape])
      for (const span of spans) {
        expect(span.resource['service.name']).toBe('orders');
        expect(span.resource['telemetry.sdk.language']).toBe('nodejs');
      }
    expect(lightShape[0]!.resource['telemetry.sdk.name']).toBe('@sidecarless/telemetry');
    expect(officialShape[0]!.resource['telemetry.sdk.name']).toBe('opentelemetry');
    const withoutSdk = (spans: ReturnType<typeof shape>) =>
      spans.map((span) => {
        const { 'telemetry.sdk.name': _name, 'telemetry.sdk.version': _version, ...resource } = span.resource;
        return { ...span, resource };
      });
    expect(withoutSdk(lightShape)).toEqual(withoutSdk(officialShape));
    // Field by field, the way they were encoded: the same OTLP JSON fields on every span.
    expect(rawShape(lightReceiver.bodies.at(-1)!)).toEqual(rawShape(sdkReceiver.bodies.at(-1)!));

    // And what the spans are: the structure both agree on, spelled out.
    const [client, server, price] = [
      lightShape.find((s) => s.kind === 3)!,
      lightShape.find((s) => s.kind === 2)!,
      lightShape.find((s) => s.name === 'price cart')!,
    ];
    expect(server).toMatchObject({
      name: 'POST',
      traceId: 'the incoming trace',
      parentSpanId: '00f067aa0ba902b7',
      status: { code: 2, message: '502' },
      attributes: { 'url.path': '/cart/checkout', 'http.response.status_code': 502, 'url.scheme': 'https' },
      events: [{ name: 'cart.loaded', attributes: { 'cart.items': 3, 'cart.gift': false } }],
      scope: { name: '@sidecarless/core', version: undefined },
    });
    expect(price).toMatchObject({
      parentSpanId: server.spanId,
      status: { code: 1 },
      scope: { name: 'orders-app', version: '1.0.0' },
      events: [
        {
          name: 'discount.applied',
          attributes: { 'discount.codes': ['WINTER', 'VIP'], 'discount.ratio': 0.15 },
        },
      ],
    });
    expect(client).toMatchObject({
      name: 'POST',
      parentSpanId: server.spanId,
      status: { code: 2, message: '503' },
      attributes: { 'http.response.status_code': 503, 'sidecarless.upstream': 'inventory' },
    });
  } finally {
    await Promise.all([lightReceiver.close(), sdkReceiver.close()]);
  }
});
