/**
 * What `@sidecarless/lambda` feeds the auth and telemetry features: real sample events through
 * the real wrappers, spans exported to a real OTLP/HTTP receiver on 127.0.0.1, client
 * certificates minted by a real CA. The Lambda context object is the testing package's (the
 * runtime-client suite, ric.test.ts, runs the same wrappers under AWS's own client).
 */

import { auth } from '@sidecarless/auth';
import { createMesh, type Mesh } from '@sidecarless/core';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { telemetry } from '@sidecarless/telemetry';
import {
  captureLogs,
  createCa,
  lambdaContext,
  lambdaEvent,
  type OtlpReceiver,
  OtlpSpanKind,
  resetColdStart,
  startOtlpReceiver,
  type TestCa,
} from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lambda, traceAttributes, withTraceDetail } from '../src/index.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON fixtures navigated by known paths.
type Json = any;

const xRay = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const meshes: Mesh[] = [];
let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});
beforeEach(() => {
  resetColdStart();
  receiver.spans.length = 0;
  process.env.AWS_REGION = 'eu-west-1';
});
afterEach(async () => {
  delete process.env.AWS_REGION;
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
});

function tracedMesh(extra: Record<string, unknown> = {}): Mesh {
  const mesh = createMesh(
    {
      service: 'orders',
      logging: { destination: captureLogs().destination },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
      ...extra,
    },
    [telemetry, auth, outbound, http],
  );
  meshes.push(mesh);
  return mesh;
}

describe('telemetry facts', () => {
  it('exports an HTTP invocation as a SERVER span under the X-Ray parent, with faas and cloud attributes', async () => {
    const handler = lambda(tracedMesh(), () => new Response('ok'));
    const result = await handler(
      lambdaEvent('apigw-http-v2.json'),
      lambdaContext({ requestId: 'req-1', traceId: xRay }),
    );
    expect(result.statusCode).toBe(200);
    // The wrapper flushed before returning: the span is already at the receiver.
    expect(receiver.spans).toHaveLength(1);
    const span = receiver.spans[0]!;
    expect(span.kind).toBe(OtlpSpanKind.server);
    expect(span.traceId).toBe('5759e988bd862e3fe1be46a994272793');
    expect(span.parentSpanId).toBe('53995c3f42cd8ad8');
    expect(span.attributes).toMatchObject({
      'faas.trigger': 'http',
      'faas.invocation_id': 'req-1',
      'faas.name': 'test-function',
      'faas.version': '$LATEST',
      'faas.max_memory': 128 * 1024 * 1024,
      'cloud.provider': 'aws',
      'cloud.region': 'eu-west-1',
      'cloud.account.id': '123456789012',
    });
  });

  it('exports one CONSUMER span per SQS message, linked to the context each message was sent in', async () => {
    const event: Json = lambdaEvent('sqs.json');
    const first = event.Records[0];
    const second = JSON.parse(JSON.stringify(first));
    second.messageId = 'second-message';
    first.attributes.AWSTraceHeader =
      'Root=1-6a8b2c3d-0123456789abcdef01234567;Parent=1122334455667788;Sampled=1';
    second.messageAttributes = {
      traceparent: {
        stringValue: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        dataType: 'String',
      },
    };
    event.Records = [first, second];
    const handler = lambda.sqs(tracedMesh(), async () => undefined);
    const result = await handler(event, lambdaContext({ traceId: xRay }));
    expect(result).toEqual({ batchItemFailures: [] });
    // The invocation's span for the batch, under the X-Ray parent, named after the function;
    // one span per message, its children.
    expect(receiver.spans).toHaveLength(3);
    const batch = receiver.spans.find((span) => span.attributes['messaging.batch.message_count'] === 2)!;
    expect(batch).toMatchObject({
      kind: OtlpSpanKind.consumer,
      name: 'test-function',
      parentSpanId: '53995c3f42cd8ad8',
    });
    expect(batch.attributes).toMatchObject({ 'faas.trigger': 'pubsub', 'messaging.system': 'aws_sqs' });
    expect(batch.links).toEqual([]);
    const messages = receiver.spans.filter((span) => span !== batch);
    for (const span of messages) {
      expect(span.kind).toBe(OtlpSpanKind.consumer);
      expect(span.traceId).toBe(batch.traceId);
      expect(span.parentSpanId).toBe(batch.spanId);
      expect(span.name).toBe(`process ${event.Records[0].eventSourceARN.split(':').pop()}`);
      expect(span.attributes['faas.trigger']).toBe('pubsub');
    }
    const links = messages.flatMap((span) => span.links);
    expect(links).toEqual(
      expect.arrayContaining([
        { traceId: '6a8b2c3d0123456789abcdef01234567', spanId: '1122334455667788' },
        { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' },
      ]),
    );
    expect(messages.map((span) => span.links.length)).toEqual([1, 1]);
  });

  it('links an SNS notification span to the traceparent message attribute', async () => {
    const event: Json = lambdaEvent('sns.json');
    event.Records[0].Sns.MessageAttributes = {
      traceparent: { Type: 'String', Value: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    };
    await lambda.sns(tracedMesh(), async () => undefined)(event, lambdaContext({ traceId: xRay }));
    expect(receiver.spans).toHaveLength(1);
    expect(receiver.spans[0]).toMatchObject({
      kind: OtlpSpanKind.consumer,
      parentSpanId: '53995c3f42cd8ad8',
      links: [{ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' }],
    });
  });

  it('prefers a traceparent request header over the X-Ray header as the parent of an HTTP span', async () => {
    const event: Json = lambdaEvent('apigw-http-v2.json');
    event.headers.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await lambda(tracedMesh(), () => new Response('ok'))(event, lambdaContext({ traceId: xRay }));
    expect(receiver.spans[0]).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentSpanId: 'b7ad6b7169203331',
    });
  });

  it('exports EventBridge events as CONSUMER spans and S3 notifications as SERVER spans (FaaS conventions)', async () => {
    const mesh = tracedMesh();
    await lambda.eventbridge(mesh, async () => undefined)(lambdaEvent('eventbridge.json'), lambdaContext());
    await lambda.s3(mesh, async () => undefined)(lambdaEvent('s3.json'), lambdaContext());
    expect(receiver.spans.map((span) => [span.kind, span.attributes['faas.trigger']])).toEqual([
      [OtlpSpanKind.consumer, 'pubsub'],
      [OtlpSpanKind.server, 'datasource'],
    ]);
  });
});

describe('OpenTelemetry semantic conventions on Lambda spans', () => {
  it('HTTP server spans carry url.scheme, http.route, and are named "{method} {route}"', async () => {
    const handler = lambda(tracedMesh(), () => new Response('ok'));
    const v2: Json = lambdaEvent('apigw-http-v2.json');
    v2.routeKey = 'POST /orders/{id}';
    await handler(v2, lambdaContext());
    const rest: Json = lambdaEvent('apigw-rest-v1-proxy.json');
    await handler(rest, lambdaContext());
    const url: Json = lambdaEvent('function-url.json');
    await handler(url, lambdaContext());
    const [fromV2, fromRest, fromUrl] = receiver.spans;
    expect(fromV2!.name).toBe(`${v2.requestContext.http.method} /orders/{id}`);
    expect(fromV2!.attributes).toMatchObject({ 'url.scheme': 'https', 'http.route': '/orders/{id}' });
    expect(fromRest!.name).toBe(`${rest.httpMethod} ${rest.resource}`);
    expect(fromRest!.attributes['http.route']).toBe(rest.resource);
    // A Function URL names no route: the method alone, never the raw path.
    expect(fromUrl!.name).toBe(url.requestContext.http.method);
    expect(fromUrl!.attributes['http.route']).toBeUndefined();
    expect(fromUrl!.attributes['url.scheme']).toBe('https');
  });

  it('a method outside RFC 9110 is _OTHER, with the original kept, and the span is named HTTP', async () => {
    const handler = lambda(tracedMesh(), () => new Response('ok'));
    const event: Json = lambdaEvent('function-url.json');
    event.requestContext.http.method = 'PROPFIND';
    expect((await handler(event, lambdaContext())).statusCode).toBe(200);
    const span = receiver.spans[0]!;
    expect(span.name).toBe('HTTP');
    expect(span.attributes).toMatchObject({
      'http.request.method': '_OTHER',
      'http.request.method_original': 'PROPFIND',
    });
  });

  it('SQS message spans carry the messaging attributes the AWS SQS conventions require', async () => {
    const event: Json = lambdaEvent('sqs.json');
    await lambda.sqs(tracedMesh(), async () => undefined)(event, lambdaContext());
    const record = event.Records[0];
    const queue = record.eventSourceARN.split(':').pop();
    expect(receiver.spans[0]!.attributes).toMatchObject({
      'messaging.system': 'aws_sqs',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': queue,
      'messaging.message.id': record.messageId,
    });
  });

  it('SNS notification spans carry aws.sns and the topic', async () => {
    const event: Json = lambdaEvent('sns.json');
    await lambda.sns(tracedMesh(), async () => undefined)(event, lambdaContext());
    expect(receiver.spans[0]!.attributes).toMatchObject({
      'messaging.system': 'aws.sns',
      'messaging.operation.type': 'process',
      'messaging.destination.name': event.Records[0].Sns.TopicArn.split(':').pop(),
    });
  });

  it('S3, scheduled and direct invocations are SERVER spans named after the function', async () => {
    const mesh = tracedMesh();
    await lambda.s3(mesh, async () => undefined)(lambdaEvent('s3.json'), lambdaContext());
    await lambda.eventbridge(mesh, async () => undefined)(
      lambdaEvent('eventbridge-scheduler.json'),
      lambdaContext(),
    );
    await lambda.event(mesh, async () => ({ ok: true }))({ any: 'payload' }, lambdaContext());
    expect(receiver.spans.map((span) => [span.kind, span.attributes['faas.trigger'], span.name])).toEqual([
      [OtlpSpanKind.server, 'datasource', 'test-function'],
      [OtlpSpanKind.server, 'timer', 'test-function'],
      [OtlpSpanKind.server, 'other', 'test-function'],
    ]);
  });
});

describe('trace context across a chain of functions', () => {
  it('what a producer writes with traceAttributes and withTraceDetail continues its trace downstream', async () => {
    const mesh = tracedMesh();
    let attributes: ReturnType<typeof traceAttributes> = {};
    let detail: { orderId: string; traceparent?: string } = { orderId: '' };
    const producer = lambda(mesh, (_request, ctx) => {
      attributes = traceAttributes(ctx, { kind: { DataType: 'String', StringValue: 'order' } });
      detail = withTraceDetail(ctx, { orderId: 'o-1' });
      return new Response('queued');
    });
    await producer(lambdaEvent('apigw-http-v2.json'), lambdaContext());
    const sent = receiver.spans[0]!;
    expect(attributes.kind).toEqual({ DataType: 'String', StringValue: 'order' });
    expect(attributes.traceparent).toEqual({
      DataType: 'String',
      StringValue: `00-${sent.traceId}-${sent.spanId}-01`,
    });
    expect(detail).toEqual({ orderId: 'o-1', traceparent: `00-${sent.traceId}-${sent.spanId}-01` });

    // SQS delivers the attribute as { stringValue, dataType }: the consumer span links to the producer's.
    const sqsEvent: Json = lambdaEvent('sqs.json');
    sqsEvent.Records = [sqsEvent.Records[0]];
    sqsEvent.Records[0].messageAttributes = {
      traceparent: { stringValue: attributes.traceparent!.StringValue, dataType: 'String' },
    };
    await lambda.sqs(mesh, async () => undefined)(sqsEvent, lambdaContext());
    // spans[1] is the message's, spans[2] the batch's.
    expect(receiver.spans[1]!.links).toEqual([{ traceId: sent.traceId, spanId: sent.spanId }]);

    // SNS delivers it as { Type, Value }.
    const snsEvent: Json = lambdaEvent('sns.json');
    snsEvent.Records[0].Sns.MessageAttributes = {
      traceparent: { Type: 'String', Value: attributes.traceparent!.StringValue },
    };
    await lambda.sns(mesh, async () => undefined)(snsEvent, lambdaContext());
    expect(receiver.spans[3]!.links).toEqual([{ traceId: sent.traceId, spanId: sent.spanId }]);

    // EventBridge carries detail as sent: the consumer span is a child, in the same trace.
    const ebEvent: Json = lambdaEvent('eventbridge.json');
    ebEvent.detail = detail;
    await lambda.eventbridge(mesh, async () => undefined)(ebEvent, lambdaContext({ traceId: xRay }));
    expect(receiver.spans[4]).toMatchObject({ traceId: sent.traceId, parentSpanId: sent.spanId });
  });

  it('the helpers leave messages unchanged when tracing is off', async () => {
    const mesh = createMesh({ service: 'plain', logging: { level: 'silent' } });
    meshes.push(mesh);
    let seen: unknown[] = [];
    await lambda(mesh, (_request, ctx) => {
      seen = [traceAttributes(ctx), withTraceDetail(ctx, { a: 1 })];
      return new Response('ok');
    })(lambdaEvent('apigw-http-v2.json'), lambdaContext());
    expect(seen).toEqual([{}, { a: 1 }]);
  });

  it('an EventBridge event without a traceparent in detail keeps the X-Ray parent', async () => {
    await lambda.eventbridge(tracedMesh(), async () => undefined)(
      lambdaEvent('eventbridge.json'),
      lambdaContext({ traceId: xRay }),
    );
    expect(receiver.spans[0]).toMatchObject({
      traceId: '5759e988bd862e3fe1be46a994272793',
      parentSpanId: '53995c3f42cd8ad8',
    });
  });
});

describe('auth facts', () => {
  let ca: TestCa;
  let rogue: TestCa;
  const spiffe = 'spiffe://cluster.local/ns/shop/sa/orders';
  let orders: { cert: string };
  let rogueCert: { cert: string };

  beforeAll(async () => {
    ca = await createCa();
    rogue = await createCa({ commonName: 'Rogue CA' });
    orders = await ca.issue({ usage: 'client', uris: [spiffe] });
    rogueCert = await rogue.issue({ usage: 'client', uris: [spiffe] });
  });

  function authMesh(section: Record<string, unknown>): Mesh {
    const mesh = createMesh(
      {
        service: 'payments',
        logging: { destination: captureLogs().destination },
        auth: section,
      },
      [auth],
    );
    meshes.push(mesh);
    return mesh;
  }

  async function peerOf(mesh: Mesh, event: Json): Promise<{ status: number; body: Json }> {
    const handler = lambda(mesh, (_request, ctx) => Response.json({ peer: ctx.peer ?? null }));
    const result = await handler(event, lambdaContext());
    return { status: result.statusCode, body: result.body ? JSON.parse(result.body) : null };
  }

  it('reads the mTLS client certificate of an HTTP API (v2) event into ctx.peer', async () => {
    const event: Json = lambdaEvent('apigw-http-v2.json');
    event.requestContext.authentication.clientCert.clientCertPem = orders.cert;
    const { status, body } = await peerOf(
      authMesh({ peerAuthentication: { mtls: { mode: 'STRICT' } } }),
      event,
    );
    expect(status).toBe(200);
    expect(body.peer).toMatchObject({ principal: 'cluster.local/ns/shop/sa/orders', source: 'api-gateway' });
  });

  it('reads the mTLS client certificate of a REST API (v1) event into ctx.peer', async () => {
    const event: Json = lambdaEvent('apigw-rest-v1-proxy.json');
    event.requestContext.identity.clientCert.clientCertPem = orders.cert;
    const { body } = await peerOf(authMesh({}), event);
    expect(body.peer).toMatchObject({ namespace: 'shop' });
  });

  it('re-verifies against the trust bundle and refuses a certificate it does not trust under STRICT', async () => {
    const mesh = authMesh({ peerAuthentication: { mtls: { mode: 'STRICT' }, trustBundle: ca.cert } });
    const event: Json = lambdaEvent('apigw-http-v2.json');
    event.requestContext.authentication.clientCert.clientCertPem = rogueCert.cert;
    expect((await peerOf(mesh, event)).status).toBe(403);
    event.requestContext.authentication.clientCert.clientCertPem = orders.cert;
    expect((await peerOf(mesh, event)).status).toBe(200);
  });

  it('refuses the placeholder text of an event without a real certificate under STRICT', async () => {
    const mesh = authMesh({ peerAuthentication: { mtls: { mode: 'STRICT' } } });
    expect((await peerOf(mesh, lambdaEvent('apigw-http-v2.json'))).status).toBe(403);
  });

  it('feeds source.ip from API Gateway (v2 http.sourceIp, v1 identity.sourceIp)', async () => {
    const mesh = authMesh({
      policies: [{ rules: [{ from: [{ source: { ipBlocks: ['192.168.0.0/16'] } }] }] }],
    });
    const v2: Json = lambdaEvent('apigw-http-v2.json');
    v2.requestContext.http.sourceIp = '192.168.1.7';
    expect((await peerOf(mesh, v2)).status).toBe(200);
    v2.requestContext.http.sourceIp = '9.9.9.9';
    expect((await peerOf(mesh, v2)).status).toBe(403);
    const v1: Json = lambdaEvent('apigw-rest-v1-proxy.json');
    expect(v1.requestContext.identity.sourceIp).toBe('192.168.196.186');
    expect((await peerOf(mesh, v1)).status).toBe(200);
  });

  it('does not trust x-forwarded-for on ALB events for source.ip', async () => {
    const mesh = authMesh({ policies: [{ rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/8'] } }] }] }] });
    const event: Json = lambdaEvent('alb.json');
    event.headers = { ...event.headers, 'x-forwarded-for': '10.1.2.3' };
    expect((await peerOf(mesh, event)).status).toBe(403);
  });
});
