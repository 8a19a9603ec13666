/**
 * An application that sets up OpenTelemetry itself — `NodeTracerProvider` from
 * `@opentelemetry/sdk-trace-node` registered with `provider.register()` (the SDK's
 * AsyncLocalStorage context manager and W3C propagator), `@opentelemetry/instrumentation-http` and
 * `@opentelemetry/instrumentation-undici` enabled — and a mesh with `telemetry.tracing` but no
 * exporter. Real servers on 127.0.0.1; spans collected with the SDK's InMemorySpanExporter.
 */
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { context, createContextKey, SpanKind, trace } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { createMesh, type HttpHandler, type Mesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { createNodeServer, serveHttp } from '@sidecarless/core/node-server';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import {
  captureLogs,
  createUpstreamServer,
  type OtlpReceiver,
  startOtlpReceiver,
  type UpstreamServer,
} from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let instrumentations: { disable(): void }[] = [];
let upstream: UpstreamServer;
let receiver: OtlpReceiver;
let mesh: Mesh | undefined;

beforeAll(() => {
  provider.register();
  instrumentations = [new HttpInstrumentation(), new UndiciInstrumentation()];
  // instrumentation-http patches `node:http` when it is required (what `--require` of the SDK
  // does before the application loads); the mesh takes the module from process.getBuiltinModule,
  // the same object, so one require after enabling is what a preloaded SDK amounts to.
  createRequire(import.meta.url)('node:http');
});

afterAll(async () => {
  for (const instrumentation of instrumentations) instrumentation.disable();
  await provider.shutdown();
  trace.disable();
  context.disable();
});

beforeEach(async () => {
  upstream = await createUpstreamServer({ name: 'inventory' });
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
  await Promise.all([upstream.close(), receiver.close()]);
  exporter.reset();
});

const meshWith = (tracing: object, logs = captureLogs()) =>
  createMesh(
    {
      service: 'orders',
      logging: { destination: logs.destination },
      telemetry: { tracing },
      upstreams: { inventory: { url: upstream.url } },
    },
    [telemetry, outbound, http],
  );

const byScope = (spans: ReadableSpan[], scope: string) =>
  spans.filter((span) => span.instrumentationScope.name === scope);

/**
 * A handler that makes its own span across awaits, calls the upstream through the mesh and once
 * with the global fetch (Node's undici, which the application's instrumentation traces).
 */
const handler: HttpHandler = async (_request, ctx) => {
  const invocationSpan = trace.getActiveSpan();
  await trace.getTracer('orders-app', '1.0.0').startActiveSpan('load cart', async (span) => {
    await sleep(2);
    // Still the application's span after the await: the SDK's AsyncLocalStorage context.
    expect(trace.getActiveSpan()).toBe(span);
    span.end();
  });
  await sleep(1);
  expect(trace.getActiveSpan()).toBe(invocationSpan);
  const stock = await ctx.upstream('inventory').fetch('/stock/42');
  await stock.text();
  const direct = await fetch(`${upstream.url}/direct`);
  await direct.text();
  return Response.json({ ok: true });
};

it('records the mesh’s SERVER and CLIENT spans and the application’s spans in the registered provider, as one trace', async () => {
  mesh = meshWith({});
  const response = await invoke(mesh, handler, 'http://localhost/cart');
  expect(response.status).toBe(200);
  await mesh.flush();
  const spans = exporter.getFinishedSpans();

  const [server, ...otherMeshSpans] = byScope(spans, '@sidecarless/core').filter(
    (span) => span.kind === SpanKind.SERVER,
  );
  expect(otherMeshSpans).toEqual([]);
  expect(server).toBeDefined();
  const traceId = server!.spanContext().traceId;
  const [cart] = byScope(spans, 'orders-app');
  expect(cart!.name).toBe('load cart');
  expect(cart!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
  expect(cart!.spanContext().traceId).toBe(traceId);

  // The call through the mesh: one CLIENT span, the mesh's, and its context on the wire.
  const meshClients = byScope(spans, '@sidecarless/core').filter((span) => span.kind === SpanKind.CLIENT);
  expect(meshClients).toHaveLength(1);
  expect(meshClients[0]!.attributes['sidecarless.upstream']).toBe('inventory');
  expect(meshClients[0]!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
  const [meshCall, directCall] = upstream.requests;
  expect(meshCall!.url).toBe('/stock/42');
  expect(meshCall!.headers.traceparent).toBe(`00-${traceId}-${meshClients[0]!.spanContext().spanId}-01`);

  // The application's own fetch is still the instrumentation's: proof it was listening, and
  // that only the mesh's own dispatches were kept from it.
  const undiciSpans = byScope(spans, '@opentelemetry/instrumentation-undici');
  expect(undiciSpans).toHaveLength(1);
  expect(undiciSpans[0]!.attributes['url.full']).toBe(`${upstream.url}/direct`);
  expect(undiciSpans[0]!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
  expect(directCall!.headers.traceparent).toBe(`00-${traceId}-${undiciSpans[0]!.spanContext().spanId}-01`);
});

it('makes the mesh’s span the child of instrumentation-http’s SERVER span on the Node server', async () => {
  mesh = meshWith({});
  const server = createNodeServer(
    mesh,
    serveHttp(
      mesh,
      () => new Response('ok'),
      () => ({ platform: 'test' }),
    ),
  );
  const { url } = await server.listen(0);
  try {
    const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    // Sent untraced (OpenTelemetry's suppressTracing key), so the only traceparent is ours.
    const suppressed = context
      .active()
      .setValue(createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING'), true);
    const response = await context.with(suppressed, () =>
      fetch(`${url}/orders`, { headers: { traceparent: parent } }),
    );
    expect(await response.text()).toBe('ok');
  } finally {
    await server.close();
  }
  const spans = exporter.getFinishedSpans();
  const [httpServer] = byScope(spans, '@opentelemetry/instrumentation-http');
  expect(httpServer!.kind).toBe(SpanKind.SERVER);
  expect(httpServer!.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
  const [meshSpan, ...more] = byScope(spans, '@sidecarless/core');
  expect(more).toEqual([]);
  expect(meshSpan!.kind).toBe(SpanKind.INTERNAL);
  expect(meshSpan!.parentSpanContext?.spanId).toBe(httpServer!.spanContext().spanId);
  expect(meshSpan!.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  expect(meshSpan!.attributes['url.path']).toBe('/orders');
});

it('exports through the light tracer with provider: "light", its exports untraced by instrumentation-http', async () => {
  mesh = meshWith({ exporter: 'otlp', endpoint: receiver.url, provider: 'light' });
  await invoke(mesh, handler, 'http://localhost/cart');
  await mesh.flush();
  const received = await receiver.waitForSpans(2);
  const server = received.find((span) => span.kind === 2)!;
  const client = received.find((span) => span.kind === 3)!;
  expect(client.parentSpanId).toBe(server.spanId);
  // The application's provider keeps the application's spans, children of the mesh's.
  const spans = exporter.getFinishedSpans();
  const [cart] = byScope(spans, 'orders-app');
  expect(cart!.parentSpanContext?.spanId).toBe(server.spanId);
  expect(byScope(spans, '@sidecarless/core')).toEqual([]);
  // No CLIENT span for the exporter's own POSTs to the receiver. (The receiver runs in this
  // process, so instrumentation-http does make SERVER spans for what it receives: a collector in
  // its own process would not.)
  const receiverPort = Number(new URL(receiver.url).port);
  const toReceiver = spans.filter(
    (span) => span.kind === SpanKind.CLIENT && span.attributes['server.port'] === receiverPort,
  );
  expect(toReceiver).toEqual([]);
  const receivedByReceiver = spans.filter(
    (span) => span.kind === SpanKind.SERVER && span.attributes['server.port'] === receiverPort,
  );
  expect(receivedByReceiver.length).toBeGreaterThan(0);
  expect(receiver.requests).toBeGreaterThan(0);
});

it('warns that the exporter is unused when the application registered a provider', async () => {
  const logs = captureLogs();
  mesh = meshWith({ exporter: 'otlp', endpoint: receiver.url }, logs);
  await invoke(mesh, () => new Response('ok'), 'http://localhost/');
  await mesh.flush();
  expect(byScope(exporter.getFinishedSpans(), '@sidecarless/core')).toHaveLength(1);
  expect(receiver.spans).toEqual([]);
  expect(logs.lines().some((line) => String(line.msg).includes('provider: "light"'))).toBe(true);
});
