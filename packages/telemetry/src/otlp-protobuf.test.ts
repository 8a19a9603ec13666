/**
 * The hand protobuf encoder held to the official one: `@opentelemetry/otlp-transformer`'s
 * `ProtobufTraceSerializer` must produce the same bytes from the same spans — the light tracer's
 * and the SDK's — and the receiver's decoder must read both encodings into the same spans.
 */
import {
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { decodeOtlpJson, decodeOtlpProtobuf, type ExportRequest, seeded } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import { LightTracerProvider } from './light-tracer.js';
import { encodeSpans } from './otlp-http-exporter.js';
import { encodeSpansProtobuf } from './otlp-protobuf.js';

const remoteParent = {
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  traceFlags: 1,
  isRemote: true,
  traceState: createTraceState('vendor=abc,other=x'),
};

/** Records one invocation's worth of spans of every kind and value type through `tracer`. */
function record(tracer: Tracer): void {
  const server = tracer.startSpan(
    'GET /stock/{id}',
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.request.method': 'GET',
        'http.response.status_code': 200,
        'faas.coldstart': true,
        'faas.max_memory': 1_073_741_824,
        'app.ratio': 0.25,
        'app.negative': -42,
        'app.huge': 2 ** 60,
        'app.unicode': 'Grüße — 東京 🚀',
        'app.tags': ['a', 'b'],
        'app.counts': [1, 2, 3],
        'app.flags': [true, false],
        'app.empty': '',
      },
      links: [
        { context: { ...remoteParent, spanId: '00f067aa0ba902b7' }, attributes: { 'link.kind': 'batch' } },
      ],
    },
    trace.setSpanContext(ROOT_CONTEXT, remoteParent),
  );
  server.addEvent('cache.miss', { 'cache.key': 'stock:42', 'cache.size': 3 });
  server.addEvent('bare');
  const client = tracer.startSpan(
    'GET',
    { kind: SpanKind.CLIENT, attributes: { 'server.port': 8080, 'url.full': 'http://inventory/stock' } },
    trace.setSpan(ROOT_CONTEXT, server),
  );
  client.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream 503' });
  client.end();
  tracer.startSpan('consume', { kind: SpanKind.CONSUMER }).end();
  tracer.startSpan('produce', { kind: SpanKind.PRODUCER }).end();
  const internal = tracer.startSpan('work', { kind: SpanKind.INTERNAL });
  internal.setStatus({ code: SpanStatusCode.OK });
  internal.end();
  server.end();
}

function lightSpans(): ReadableSpan[] {
  const spans: ReadableSpan[] = [];
  const provider = new LightTracerProvider({
    resource: { 'service.name': 'inventory', 'service.version': '1.2.3', 'cloud.region': 'eu-west-1' },
    ratio: 1,
    pipeline: {
      onEnd: (span) => spans.push(span),
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
    },
  });
  record(provider.getTracer('@sidecarless/core', '0.1.0'));
  record(provider.getTracer('app'));
  return spans;
}

function sdkSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': 'inventory',
      'deployment.environment.name': 'staging',
    }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  record(provider.getTracer('@sidecarless/core', '0.1.0'));
  record(provider.getTracer('app', '2.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.28.0' }));
  return exporter.getFinishedSpans();
}

/** Every span `spans` decode to, through the official JSON serializer and the receiver's decoder. */
function viaOfficialJson(spans: ReadableSpan[]) {
  const json = new TextDecoder().decode(JsonTraceSerializer.serializeRequest(spans));
  return decodeOtlpJson(JSON.parse(json) as ExportRequest);
}

describe('the OTLP protobuf encoder', () => {
  it('writes the bytes the official serializer writes, for the light tracer’s spans', () => {
    const spans = lightSpans();
    expect(spans.length).toBe(10);
    const ours = Buffer.from(encodeSpansProtobuf(spans));
    const official = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(ours.toString('hex')).toBe(official.toString('hex'));
  });

  it('writes the bytes the official serializer writes, for the SDK’s spans (schema urls, remote-less parents)', () => {
    const spans = sdkSpans();
    const ours = Buffer.from(encodeSpansProtobuf(spans));
    const official = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(ours.toString('hex')).toBe(official.toString('hex'));
  });

  it('decodes to the same spans as the JSON encoding of the same spans', () => {
    const spans = lightSpans();
    const decoded = decodeOtlpJson(decodeOtlpProtobuf(Buffer.from(encodeSpansProtobuf(spans))));
    expect(decoded).toEqual(viaOfficialJson(spans));
    // Our own JSON encoder agrees too.
    expect(decodeOtlpJson(JSON.parse(encodeSpans(spans)) as ExportRequest)).toEqual(decoded);
  });

  it('matches the official bytes on seeded random attributes and names', () => {
    const random = seeded(20261204);
    const pick = random.pick;
    const chance = (percent: number): boolean => random.next(100) < percent;
    const words = ['a', 'stock', 'Grüße', '東京', '🚀', '', 'x'.repeat(200), 'line\nbreak'];
    const values = (): unknown =>
      pick([
        () => pick(words),
        () => random.next(2 ** 30) * 1024 - 2 ** 39,
        () => random.next(1_000_000) / 7,
        () => chance(50),
        () => [pick(words), pick(words)],
        () => [random.next(1000)],
      ])();
    for (let round = 0; round < 50; round++) {
      const spans: ReadableSpan[] = [];
      const provider = new LightTracerProvider({
        resource: { 'service.name': pick(words) },
        ratio: 1,
        pipeline: {
          onEnd: (span) => spans.push(span),
          forceFlush: () => Promise.resolve(),
          shutdown: () => Promise.resolve(),
        },
      });
      const tracer = provider.getTracer(pick(words) || 'scope');
      for (let s = 0; s < 1 + random.next(4); s++) {
        const attributes: Record<string, unknown> = {};
        for (let a = 0; a < random.next(8); a++) attributes[`k${a}.${pick(words)}`] = values();
        const span: Span = tracer.startSpan(pick(words), {
          kind: random.next(5),
          attributes: attributes as never,
        });
        if (chance(50)) span.addEvent(pick(words), { n: random.next(100) });
        if (chance(30)) span.setStatus({ code: SpanStatusCode.ERROR, message: pick(words) });
        span.end();
      }
      expect(Buffer.from(encodeSpansProtobuf(spans)).toString('hex')).toBe(
        Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!).toString('hex'),
      );
    }
  });
});
