/**
 * `telemetry.tracing.provider: "global"`: the mesh sets up nothing and its spans go to whatever
 * provider the application registers — even after `createMesh` and `mesh.ready()`.
 */
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { createMesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { afterEach, expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

afterEach(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

it('sends the spans to a provider registered after the mesh got ready', async () => {
  const mesh = createMesh(
    { service: 'late', logging: { level: 'silent' }, telemetry: { tracing: { provider: 'global' } } },
    [telemetry],
  );
  await mesh.ready();
  // Before any provider: the api's non-recording spans, the invocation still answered.
  expect((await invoke(mesh, () => new Response('early'), 'http://localhost/early')).status).toBe(200);
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  try {
    await invoke(mesh, () => new Response('late'), 'http://localhost/late');
    await mesh.flush();
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({
      kind: SpanKind.SERVER,
      instrumentationScope: { name: '@sidecarless/core' },
    });
    expect(spans[0]!.attributes['url.path']).toBe('/late');
  } finally {
    await mesh.close();
    await provider.shutdown();
  }
});
