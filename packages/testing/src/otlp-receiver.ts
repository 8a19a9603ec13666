/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1 for tests: it accepts what an OpenTelemetry
 * exporter POSTs to `/v1/traces` in the OTLP JSON or protobuf encoding (gzip or not), decodes it
 * into plain span records, and answers like a collector does.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** OTLP span kinds. */
export const OtlpSpanKind = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

/** One received span, decoded. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  /** Undefined for a root span. */
  readonly parentSpanId: string | undefined;
  readonly name: string;
  /** One of {@link OtlpSpanKind}. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** `code` 0 unset, 1 ok, 2 error. */
  readonly status: { readonly code: number; readonly message: string | undefined };
  readonly links: readonly { readonly traceId: string; readonly spanId: string }[];
  /** The span's events (`exception`, `rate_limited`…), with their attributes. */
  readonly events: readonly {
    readonly name: string;
    readonly attributes: Readonly<Record<string, unknown>>;
  }[];
  /** The resource attributes (`service.name`…). */
  readonly resource: Readonly<Record<string, unknown>>;
  /** The instrumentation scope (the tracer's name and version). */
  readonly scope: { readonly name: string; readonly version: string | undefined };
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
}

export interface OtlpReceiver {
  /** The traces URL to configure as `telemetry.tracing.endpoint`. */
  readonly url: string;
  /** Every span received so far, in arrival order. */
  readonly spans: ReceivedSpan[];
  /** Export requests received (including rejected ones). */
  readonly requests: number;
  /** The headers of every accepted export request, in order. */
  readonly requestHeaders: IncomingHttpHeaders[];
  /** The body of every accepted export request (decompressed), in order. */
  readonly bodies: Buffer[];
  /** Resolves once at least `count` spans have arrived; rejects after `timeoutMs`. */
  waitForSpans(count: number, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
};
type KeyValue = { key: string; value?: AnyValue | undefined };

function decodeValue(value: AnyValue | undefined): unknown {
  if (value === undefined) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(decodeValue);
  if (value.kvlistValue) return decodeAttributes(value.kvlistValue.values);
  if ('bytesValue' in value) return Buffer.from(value.bytesValue ?? '', 'base64');
  return undefined;
}

function decodeAttributes(attributes: KeyValue[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of attributes ?? []) out[key] = decodeValue(value);
  return out;
}

/** OTLP JSON carries ids as hex; some encoders send base64 — accept both, return hex. */
function hexId(id: string | undefined, length: number): string | undefined {
  if (!id) return undefined;
  if (new RegExp(`^[0-9a-f]{${length}}$`, 'i').test(id)) return id.toLowerCase();
  const hex = Buffer.from(id, 'base64').toString('hex');
  return hex.length === length ? hex : undefined;
}

export interface ExportRequest {
  resourceSpans?: ResourceSpansJson[] | undefined;
}

type Maybe<T> = T | undefined;

interface ResourceSpansJson {
  resource?: Maybe<{ attributes?: Maybe<KeyValue[]> }>;
  scopeSpans?: Maybe<ScopeSpansJson[]>;
}

interface ScopeSpansJson {
  scope?: Maybe<{ name?: Maybe<string>; version?: Maybe<string> }>;
  spans?: Maybe<SpanJson[]>;
}

interface SpanJson {
  traceId?: Maybe<string>;
  spanId?: Maybe<string>;
  parentSpanId?: Maybe<string>;
  name?: Maybe<string>;
  kind?: Maybe<number>;
  attributes?: Maybe<KeyValue[]>;
  status?: Maybe<{ code?: Maybe<number>; message?: Maybe<string> }>;
  links?: Maybe<{ traceId?: Maybe<string>; spanId?: Maybe<string>; attributes?: Maybe<KeyValue[]> }[]>;
  events?: Maybe<
    { name?: Maybe<string>; attributes?: Maybe<KeyValue[]>; timeUnixNano?: Maybe<string | number> }[]
  >;
  startTimeUnixNano?: Maybe<string | number>;
  endTimeUnixNano?: Maybe<string | number>;
}

/** One protobuf field as read off the wire: its number and its varint, fixed or bytes value. */
type Field =
  | { readonly number: number; readonly wire: 0; readonly value: bigint }
  | { readonly number: number; readonly wire: 1; readonly value: Buffer }
  | { readonly number: number; readonly wire: 2; readonly value: Buffer }
  | { readonly number: number; readonly wire: 5; readonly value: Buffer };

function readVarint(bytes: Buffer, at: { pos: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (at.pos >= bytes.length) throw new Error('truncated varint');
    const byte = bytes[at.pos++]!;
    result |= BigInt(byte & 127) << shift;
    if (byte < 128) return result;
    shift += 7n;
  }
}

/** Splits one protobuf message into its fields, in wire order. Throws on malformed input. */
function fieldsOf(bytes: Buffer): Field[] {
  const fields: Field[] = [];
  const at = { pos: 0 };
  while (at.pos < bytes.length) {
    const key = Number(readVarint(bytes, at));
    const number = key >>> 3;
    const wire = key & 7;
    if (wire === 0) fields.push({ number, wire, value: readVarint(bytes, at) });
    else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      if (at.pos + size > bytes.length) throw new Error('truncated fixed field');
      fields.push({ number, wire, value: bytes.subarray(at.pos, at.pos + size) });
      at.pos += size;
    } else if (wire === 2) {
      const length = Number(readVarint(bytes, at));
      if (at.pos + length > bytes.length) throw new Error('truncated length-delimited field');
      fields.push({ number, wire, value: bytes.subarray(at.pos, at.pos + length) });
      at.pos += length;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return fields;
}

const messages = (fields: Field[], number: number): Buffer[] =>
  fields.filter((f) => f.number === number && f.wire === 2).map((f) => f.value as Buffer);
const text = (fields: Field[], number: number): string | undefined =>
  messages(fields, number)[0]?.toString('utf8');
const hex = (fields: Field[], number: number): string | undefined =>
  messages(fields, number)[0]?.toString('hex');
const varint = (fields: Field[], number: number): bigint | undefined =>
  fields.find((f) => f.number === number && f.wire === 0)?.value as bigint | undefined;
const fixed64 = (fields: Field[], number: number): string | undefined =>
  (fields.find((f) => f.number === number && f.wire === 1)?.value as Buffer | undefined)
    ?.readBigUInt64LE()
    .toString();

function protoAnyValue(bytes: Buffer): AnyValue {
  const fields = fieldsOf(bytes);
  const field = fields[0];
  if (!field) return {};
  switch (field.number) {
    case 1:
      return { stringValue: (field.value as Buffer).toString('utf8') };
    case 2:
      return { boolValue: field.value === 1n };
    case 3:
      return { intValue: BigInt.asIntN(64, field.value as bigint).toString() };
    case 4:
      return { doubleValue: (field.value as Buffer).readDoubleLE() };
    case 5:
      return { arrayValue: { values: messages(fieldsOf(field.value as Buffer), 1).map(protoAnyValue) } };
    case 6:
      return { kvlistValue: { values: messages(fieldsOf(field.value as Buffer), 1).map(protoKeyValue) } };
    case 7:
      return { bytesValue: (field.value as Buffer).toString('base64') };
    default:
      throw new Error(`unknown AnyValue field ${field.number}`);
  }
}

function protoKeyValue(bytes: Buffer): KeyValue {
  const fields = fieldsOf(bytes);
  const value = messages(fields, 2)[0];
  return value === undefined
    ? { key: text(fields, 1) ?? '' }
    : { key: text(fields, 1) ?? '', value: protoAnyValue(value) };
}

/**
 * Decodes an OTLP protobuf `ExportTraceServiceRequest` (opentelemetry-proto
 * `trace/v1/trace.proto`) into the JSON encoding's shape, field by field, so one decoder serves
 * both encodings.
 */
export function decodeOtlpProtobuf(body: Buffer): ExportRequest {
  return {
    resourceSpans: messages(fieldsOf(body), 1).map((resourceBytes) => {
      const resourceSpans = fieldsOf(resourceBytes);
      const resource = messages(resourceSpans, 1)[0];
      return {
        resource: { attributes: resource ? messages(fieldsOf(resource), 1).map(protoKeyValue) : [] },
        scopeSpans: messages(resourceSpans, 2).map((scopeBytes) => {
          const scopeSpans = fieldsOf(scopeBytes);
          const scope = messages(scopeSpans, 1)[0];
          const scopeFields = scope ? fieldsOf(scope) : [];
          return {
            scope: { name: text(scopeFields, 1) ?? '', version: text(scopeFields, 2) },
            spans: messages(scopeSpans, 2).map((spanBytes) => {
              const span = fieldsOf(spanBytes);
              const status = messages(span, 15)[0];
              const statusFields = status ? fieldsOf(status) : [];
              return {
                traceId: hex(span, 1),
                spanId: hex(span, 2),
                parentSpanId: hex(span, 4),
                name: text(span, 5),
                kind: Number(varint(span, 6) ?? 0n),
                startTimeUnixNano: fixed64(span, 7),
                endTimeUnixNano: fixed64(span, 8),
                attributes: messages(span, 9).map(protoKeyValue),
                events: messages(span, 11).map((eventBytes) => {
                  const event = fieldsOf(eventBytes);
                  return {
                    timeUnixNano: fixed64(event, 1),
                    name: text(event, 2),
                    attributes: messages(event, 3).map(protoKeyValue),
                  };
                }),
                links: messages(span, 13).map((linkBytes) => {
                  const link = fieldsOf(linkBytes);
                  return {
                    traceId: hex(link, 1),
                    spanId: hex(link, 2),
                    attributes: messages(link, 4).map(protoKeyValue),
                  };
                }),
                status: { code: Number(varint(statusFields, 3) ?? 0n), message: text(statusFields, 2) },
              };
            }),
          };
        }),
      };
    }),
  };
}

/** Decodes an OTLP JSON `ExportTraceServiceRequest` into spans. Throws on malformed ids. */
export function decodeOtlpJson(body: ExportRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of body.resourceSpans ?? []) {
    const resource = decodeAttributes(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      const scope = { name: scopeSpans.scope?.name ?? '', version: scopeSpans.scope?.version || undefined };
      for (const span of scopeSpans.spans ?? []) {
        const traceId = hexId(span.traceId, 32);
        const spanId = hexId(span.spanId, 16);
        if (!traceId || !spanId) throw new Error(`malformed span ids: ${span.traceId} ${span.spanId}`);
        spans.push({
          traceId,
          spanId,
          parentSpanId: hexId(span.parentSpanId, 16),
          name: span.name ?? '',
          kind: span.kind ?? 0,
          attributes: decodeAttributes(span.attributes),
          status: { code: span.status?.code ?? 0, message: span.status?.message || undefined },
          links: (span.links ?? []).map((link) => ({
            traceId: hexId(link.traceId, 32) ?? '',
            spanId: hexId(link.spanId, 16) ?? '',
          })),
          events: (span.events ?? []).map((event) => ({
            name: event.name ?? '',
            attributes: decodeAttributes(event.attributes),
          })),
          resource,
          scope,
          startTimeUnixNano: String(span.startTimeUnixNano ?? '0'),
          endTimeUnixNano: String(span.endTimeUnixNano ?? '0'),
        });
      }
    }
  }
  return spans;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  return request.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
}

/**
 * Starts a receiver on an ephemeral 127.0.0.1 port.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { telemetry } from '@sidecarless/telemetry';
 * import { invoke } from '@sidecarless/core/local';
 * import { startOtlpReceiver } from '@sidecarless/testing';
 *
 * const receiver = await startOtlpReceiver();
 * const mesh = createMesh({ service: 'a', telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } } }, [telemetry]);
 * await invoke(mesh, () => new Response('ok'), 'http://localhost/');
 * await mesh.flush();
 * const [span] = await receiver.waitForSpans(1);
 * await receiver.close();
 * ```
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  let requests = 0;
  const requestHeaders: IncomingHttpHeaders[] = [];
  const bodies: Buffer[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((request, response) => {
    requests++;
    if (request.method !== 'POST' || request.url !== '/v1/traces') {
      response.writeHead(404).end();
      return;
    }
    const type = String(request.headers['content-type']);
    const protobuf = type.startsWith('application/x-protobuf');
    if (!protobuf && !type.startsWith('application/json')) {
      response
        .writeHead(415, { 'content-type': 'text/plain' })
        .end('this receiver decodes OTLP JSON and protobuf only');
      return;
    }
    readBody(request)
      .then((body) => {
        bodies.push(body);
        spans.push(
          ...decodeOtlpJson(
            protobuf ? decodeOtlpProtobuf(body) : (JSON.parse(body.toString('utf8')) as ExportRequest),
          ),
        );
        requestHeaders.push(request.headers);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        for (const wake of waiters) wake();
      })
      .catch((error: unknown) => {
        response.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    requestHeaders,
    bodies,
    get requests() {
      return requests;
    },
    waitForSpans(count, timeoutMs = 5_000) {
      if (spans.length >= count) return Promise.resolve(spans);
      return new Promise((resolve, reject) => {
        const wake = () => {
          if (spans.length < count) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve(spans);
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`expected ${count} spans within ${timeoutMs} ms, received ${spans.length}`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
