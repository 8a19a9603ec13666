/**
 * `knative.cloudevents` against what the CloudEvents HTTP binding and the peers' conformance
 * tooling send: media types with parameters and any case (RFC 9110 §8.3.1), binary-mode bodies
 * that are bytes, events without `time`, and the W3C `traceparent` HTTP header. Cases built here
 * in the shapes the conformance tool and the SDK tests use; a real server on loopback.
 */
import { createMesh } from '@sidecarless/core';
import { knative, type NodeServer, withTraceContext } from '@sidecarless/knative';
import { telemetry } from '@sidecarless/telemetry';
import type { CloudEvent } from 'cloudevents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('knative.cloudevents and the HTTP binding as peers send it', () => {
  let server: NodeServer;
  let url: string;
  const seen = new Map<string, { event: CloudEvent<unknown>; traceId: string | undefined }>();

  beforeAll(async () => {
    // Tracing with no exporter: spans go through the api's proxy, enough to read the trace id.
    const mesh = createMesh({ service: 'events', logging: { level: 'silent' }, telemetry: { tracing: {} } }, [
      telemetry,
    ]);
    server = knative.cloudevents(
      mesh,
      (event, ctx) => {
        seen.set(event.id, { event, traceId: ctx.telemetry?.span?.spanContext().traceId });
        // A reply carries this invocation's trace context on, as its extension.
        if (event.type === 'needs.reply')
          return withTraceContext(ctx, {
            specversion: '1.0',
            id: `${event.id}-reply`,
            type: 'reply',
            source: '/r',
          });
        return undefined;
      },
      { port: 0, shutdownSignals: false, env: {} },
    );
    ({ url } = await server.listen());
  });
  afterAll(() => server.close());

  const structured = (id: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      specversion: '1.0',
      id,
      type: 't',
      source: '/s',
      time: '2026-12-03T10:00:00Z',
      ...extra,
    });

  for (const contentType of [
    'application/cloudevents+json; charset=UTF-8',
    'application/cloudevents+json;charset=utf-8',
    'Application/CloudEvents+JSON',
    'application/cloudevents+json; charset="utf-8"',
  ]) {
    it(`structured mode accepts content-type ${contentType}`, async () => {
      const id = `structured-${contentType}`;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: structured(id, { data: { a: 1 } }),
      });
      expect(response.status).toBe(202);
      expect(seen.get(id)?.event.data).toEqual({ a: 1 });
    });
  }

  it('a batch with a charset parameter is a batch', async () => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json; charset=UTF-8' },
      body: `[${structured('batch-1')},${structured('batch-2')}]`,
    });
    expect(response.status).toBe(202);
    expect([seen.has('batch-1'), seen.has('batch-2')]).toEqual([true, true]);
  });

  const binary = (
    id: string,
    contentType: string,
    body: string | Uint8Array,
    headers: Record<string, string> = {},
  ) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': id,
        'ce-type': 't',
        'ce-source': '/s',
        'content-type': contentType,
        ...headers,
      },
      body,
    });

  for (const contentType of ['image/png', 'application/octet-stream']) {
    it(`binary mode keeps a ${contentType} body as bytes`, async () => {
      const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0xff, 0x00, 0xc3, 0x28]);
      const id = `bytes-${contentType}`;
      expect((await binary(id, contentType, bytes)).status).toBe(202);
      const data = seen.get(id)?.event.data;
      expect(data).toBeInstanceOf(Uint8Array);
      expect([...(data as Uint8Array)]).toEqual([...bytes]);
      expect(seen.get(id)?.event.datacontenttype).toBe(contentType);
    });
  }

  it('binary mode parses application/json; charset=UTF-8 as it parses application/json', async () => {
    expect((await binary('json-plain', 'application/json', '{"a":1}')).status).toBe(202);
    expect((await binary('json-charset', 'application/json; charset=UTF-8', '{"a":1}')).status).toBe(202);
    expect((await binary('json-suffix', 'application/vnd.orders+json', '{"a":1}')).status).toBe(202);
    expect(seen.get('json-plain')?.event.data).toEqual({ a: 1 });
    expect(seen.get('json-charset')?.event.data).toEqual({ a: 1 });
    expect(seen.get('json-suffix')?.event.data).toEqual({ a: 1 });
  });

  it('binary mode gives text types as text', async () => {
    expect((await binary('text', 'text/plain; charset=utf-8', 'héllo')).status).toBe(202);
    expect(seen.get('text')?.event.data).toBe('héllo');
  });

  it('binary mode refuses a JSON body that is not JSON with 400', async () => {
    const response = await binary('bad-json', 'application/json', '{nope');
    expect(response.status).toBe(400);
    expect(seen.has('bad-json')).toBe(false);
  });

  it('an event sent without time has no time (binary and structured)', async () => {
    expect((await binary('no-time-binary', 'text/plain', 'x')).status).toBe(202);
    const body = JSON.stringify({ specversion: '1.0', id: 'no-time-structured', type: 't', source: '/s' });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body,
    });
    expect(response.status).toBe(202);
    for (const id of ['no-time-binary', 'no-time-structured']) {
      const event = seen.get(id)!.event;
      expect(event.time).toBeUndefined();
      expect('time' in event.toJSON()).toBe(false);
      expect(Object.isFrozen(event)).toBe(true);
    }
    // A time that was sent is kept (the SDK normalises its text to UTC ISO 8601: the same instant).
    expect(seen.get('text')?.event.time).toBeUndefined();
    expect(seen.get('json-plain')?.event.time).toBeUndefined();
    const timed = seen.get('structured-Application/CloudEvents+JSON')!.event;
    expect(new Date(timed.time!).getTime()).toBe(Date.parse('2026-12-03T10:00:00Z'));
  });

  it('reads the W3C traceparent HTTP header when the event carries no traceparent extension', async () => {
    const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    expect((await binary('trace-header', 'text/plain', 'x', { traceparent: header })).status).toBe(202);
    expect(seen.get('trace-header')?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it("withTraceContext puts the invocation's trace context on the reply event", async () => {
    const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'ask',
        'ce-type': 'needs.reply',
        'ce-source': '/s',
        'content-type': 'text/plain',
        traceparent: header,
      },
      body: 'x',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('ce-id')).toBe('ask-reply');
    expect(response.headers.get('ce-traceparent')).toMatch(
      /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-0[01]$/,
    );
  });

  it('prefers the traceparent extension over the HTTP header', async () => {
    const extension = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const header = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json', traceparent: header },
      body: structured('trace-both', { traceparent: extension }),
    });
    expect(response.status).toBe(202);
    expect(seen.get('trace-both')?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
  });
});
