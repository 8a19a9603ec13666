/**
 * `knative.cloudevents` on a real server, fed by the real `cloudevents` SDK emitter in binary
 * and structured mode, and by the CloudEvents conformance sets.
 */
import { readFileSync } from 'node:fs';
import { createMesh, type Mesh, type MeshContext } from '@sidecarless/core';
import { knative, type NodeServer } from '@sidecarless/knative';
import { telemetry } from '@sidecarless/telemetry';
import { type OtlpReceiver, OtlpSpanKind, startOtlpReceiver } from '@sidecarless/testing';
import { CloudEvent, emitterFor, HTTP, httpTransport, Mode } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

interface ConformanceSet {
  tests: { id: string; event: Record<string, unknown> }[];
}
const load = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`./fixtures/cloudevents/${name}`, import.meta.url), 'utf8'),
  ) as ConformanceSet;
const invalid = load('invalid-events.json').tests;
const valid = load('valid-events.json').tests;

interface Seen {
  event: CloudEvent<unknown>;
  ctx: MeshContext;
}

describe('knative.cloudevents', () => {
  let server: NodeServer;
  let url: string;
  const seen: Seen[] = [];
  let receiver: OtlpReceiver;
  let mesh: Mesh;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    mesh = createMesh(
      {
        service: 'events',
        logging: { level: 'silent' },
        telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
      },
      [telemetry],
    );
    server = knative.cloudevents(
      mesh,
      (event, ctx) => {
        seen.push({ event, ctx });
        if (event.type === 'test.fail') throw new Error('handler failed');
        if (event.type === 'order.created')
          return new CloudEvent({
            id: `${event.id}-reply`,
            type: 'order.acknowledged',
            source: '/orders',
            data: { ok: true, for: event.id },
          });
        return undefined;
      },
      {
        port: 0,
        shutdownSignals: false,
        env: { K_SERVICE: 'orders', K_REVISION: 'orders-00042', K_CONFIGURATION: 'orders' },
      },
    );
    ({ url } = await server.listen());
  });
  afterAll(async () => {
    await server.close();
    await receiver.close();
  });

  const post = (
    body: string,
    contentType = 'application/cloudevents+json',
    headers: Record<string, string> = {},
  ) => fetch(url, { method: 'POST', headers: { 'content-type': contentType, ...headers }, body });

  it.each([Mode.BINARY, Mode.STRUCTURED])(
    'receives an event the SDK emits in %s mode and replies in binary mode',
    async (mode) => {
      const emit = emitterFor(httpTransport(url), { mode });
      const event = new CloudEvent({
        id: `order-${mode}`,
        type: 'order.created',
        source: '/shop',
        data: { qty: 2 },
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      });
      const reply = (await emit(event)) as { body: string; headers: Record<string, string> };
      const received = seen.find((entry) => entry.event.id === `order-${mode}`);
      expect(received?.event.data).toEqual({ qty: 2 });
      expect(received?.ctx.trigger).toBe('pubsub');
      expect(received?.ctx.invocationId).toBe(`order-${mode}`);
      // The event's distributed-tracing extension is the parent of its CONSUMER span.
      expect(received?.ctx.telemetry?.span?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      await mesh.flush();
      const span = receiver.spans.find((entry) => entry.attributes['faas.invocation_id'] === `order-${mode}`);
      expect(span).toMatchObject({
        kind: OtlpSpanKind.consumer,
        name: 'order.created process',
        parentSpanId: 'b7ad6b7169203331',
      });
      expect(span?.attributes).toMatchObject({ 'faas.trigger': 'pubsub', 'faas.name': 'orders' });
      expect(received?.ctx.attributes).toEqual({
        'faas.name': 'orders',
        'faas.version': 'orders-00042',
        'knative.configuration': 'orders',
      });
      expect(reply.headers['ce-id']).toBe(`order-${mode}-reply`);
      expect(reply.headers['ce-type']).toBe('order.acknowledged');
      const back = HTTP.toEvent({ headers: reply.headers, body: reply.body }) as CloudEvent<unknown>;
      expect(back.data).toEqual({ ok: true, for: `order-${mode}` });
    },
  );

  it('answers 202 with no body when the handler returns nothing', async () => {
    const response = await post(JSON.stringify({ specversion: '1.0', id: 'n1', type: 'noop', source: '/t' }));
    expect(response.status).toBe(202);
    expect(await response.text()).toBe('');
  });

  it('delivers each event of a batch to the handler', async () => {
    const batch = [1, 2, 3].map((n) => ({
      specversion: '1.0',
      id: `batch-${n}`,
      type: 'noop',
      source: '/t',
      data: n,
    }));
    const response = await post(JSON.stringify(batch), 'application/cloudevents-batch+json');
    expect(response.status).toBe(202);
    expect(
      seen.filter((entry) => entry.event.id.startsWith('batch-')).map((entry) => entry.event.data),
    ).toEqual([1, 2, 3]);
  });

  it.each(invalid)('refuses the conformance event $id with 400 and a reason', async ({ event }) => {
    const response = await post(JSON.stringify(event));
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { code: string; detail: string };
    expect(problem.code).toBe('SCL_ERR_INVALID_CLOUDEVENT');
    expect(problem.detail.length).toBeGreaterThan(10);
  });

  it.each(valid)('accepts the conformance event $id', async ({ id, event }) => {
    const before = seen.length;
    const response = await post(JSON.stringify(event));
    expect(response.status, await response.clone().text()).toBe(202);
    expect(seen.length).toBe(before + 1);
    expect(seen.at(-1)?.event.id).toBe(event.id);
    expect(id).toBeTruthy();
  });

  it('refuses binary-mode events whose headers break the rules', async () => {
    const base = { 'ce-specversion': '1.0', 'ce-id': 'b1', 'ce-source': '/t', 'ce-type': 'noop' };
    const cases: Record<string, string>[] = [
      { ...base, 'ce-specversion': '0.9' },
      { ...base, 'ce-time': 'lunchtime' },
      { ...base, 'ce-id': '' },
      { ...base, 'ce-my.ext': 'x' },
    ];
    for (const headers of cases) {
      const response = await post('{}', 'application/json', headers);
      expect(response.status).toBe(400);
    }
    const good = await post('{"a":1}', 'application/json', base);
    expect(good.status).toBe(202);
  });

  it('refuses a request that is not a CloudEvent, and methods other than POST', async () => {
    expect((await post('{}', 'application/json')).status).toBe(400);
    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('answers 500 without the message when the handler throws, so the broker retries', async () => {
    const response = await post(
      JSON.stringify({ specversion: '1.0', id: 'f1', type: 'test.fail', source: '/t' }),
    );
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain('handler failed');
  });
});
