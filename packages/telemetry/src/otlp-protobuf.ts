/**
 * Finished spans as an OTLP protobuf `ExportTraceServiceRequest`
 * (opentelemetry-proto `collector/trace/v1/trace_service.proto`), for
 * `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` — the Collector's default encoding. Loaded only
 * when that protocol is configured.
 *
 * A hand encoder instead of a protobuf library: the trace messages are a dozen fields deep and
 * never change shape, and a generic runtime (protobufjs, or the official transformer with the
 * metrics and logs SDKs it loads) costs more to import than the light tracer itself. The output
 * is held byte for byte to `@opentelemetry/otlp-transformer`'s `ProtobufTraceSerializer` in
 * otlp-protobuf.test.ts: the same fields, in field-number order, zero counts written as the
 * official encoder writes them. Measured in bench/telemetry.bench.ts against the JSON encoding.
 *
 * Nested messages are written in place: a message's bytes go straight into the buffer and, when
 * it ends, are moved up by the size of its tag and length prefix (one `copyWithin`), so lengths
 * stay minimal varints without a sizing pass.
 */
import type { Attributes, AttributeValue, HrTime } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { spanFlags } from './otlp-http-exporter.js';

const varintWire = 0;
const fixed64Wire = 1;
const lengthWire = 2;
const fixed32Wire = 5;

const int64Limit = 2 ** 63;

/** Bytes a varint of `value` (0 ≤ value < 2^53) takes. */
function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

class ProtoWriter {
  #buffer = Buffer.allocUnsafe(4096);
  #pos = 0;
  readonly #starts: number[] = [];

  #room(bytes: number): void {
    if (this.#pos + bytes <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.#buffer.length * 2, this.#pos + bytes));
    this.#buffer.copy(grown, 0, 0, this.#pos);
    this.#buffer = grown;
  }

  /** An unsigned varint, 0 ≤ value < 2^53 (the low 7 bits survive `& 127` at any such size). */
  varint(value: number): void {
    this.#room(10);
    const buffer = this.#buffer;
    while (value >= 128) {
      buffer[this.#pos++] = (value & 127) | 128;
      value = Math.floor(value / 128);
    }
    buffer[this.#pos++] = value;
  }

  /** A negative int64 as protobuf writes it: ten bytes of two's complement. */
  negativeVarint(value: number): void {
    let rest = BigInt.asUintN(64, BigInt(value));
    this.#room(10);
    while (rest >= 128n) {
      this.#buffer[this.#pos++] = Number(rest & 127n) | 128;
      rest >>= 7n;
    }
    this.#buffer[this.#pos++] = Number(rest);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  uint(field: number, value: number): void {
    this.tag(field, varintWire);
    this.varint(value);
  }

  string(field: number, value: string): void {
    const length = Buffer.byteLength(value);
    this.tag(field, lengthWire);
    this.varint(length);
    this.#room(length);
    this.#pos += this.#buffer.write(value, this.#pos, length, 'utf8');
  }

  /** Hex ids as bytes (16 for a trace id, 8 for a span id). */
  hex(field: number, value: string): void {
    const length = value.length >>> 1;
    this.tag(field, lengthWire);
    this.varint(length);
    this.#room(length);
    this.#pos += this.#buffer.write(value, this.#pos, length, 'hex');
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, lengthWire);
    this.varint(value.length);
    this.#room(value.length);
    this.#buffer.set(value, this.#pos);
    this.#pos += value.length;
  }

  time(field: number, time: HrTime): void {
    this.tag(field, fixed64Wire);
    this.#room(8);
    this.#pos = this.#buffer.writeBigUInt64LE(BigInt(time[0]) * 1_000_000_000n + BigInt(time[1]), this.#pos);
  }

  double(field: number, value: number): void {
    this.tag(field, fixed64Wire);
    this.#room(8);
    this.#pos = this.#buffer.writeDoubleLE(value, this.#pos);
  }

  fixed32(field: number, value: number): void {
    this.tag(field, fixed32Wire);
    this.#room(4);
    this.#pos = this.#buffer.writeUInt32LE(value, this.#pos);
  }

  /** Starts a nested message; its bytes follow until {@link end}. */
  begin(): void {
    this.#starts.push(this.#pos);
  }

  /** Ends the innermost message and puts its tag and length in front of it. */
  end(field: number): void {
    const start = this.#starts.pop()!;
    const length = this.#pos - start;
    const key = (field << 3) | lengthWire;
    const prefix = varintSize(key) + varintSize(length);
    this.#room(prefix);
    this.#buffer.copyWithin(start + prefix, start, this.#pos);
    const end = this.#pos + prefix;
    this.#pos = start;
    this.varint(key);
    this.varint(length);
    this.#pos = end;
  }

  finish(): Uint8Array {
    return this.#buffer.subarray(0, this.#pos);
  }
}

// AnyValue: 1 string, 2 bool, 3 int, 4 double, 5 array, 6 kvlist, 7 bytes.
function anyValue(writer: ProtoWriter, value: unknown): void {
  if (typeof value === 'string') writer.string(1, value);
  else if (typeof value === 'boolean') writer.uint(2, value ? 1 : 0);
  else if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -int64Limit && value < int64Limit) {
      writer.tag(3, varintWire);
      if (value >= 0) writer.varint(value);
      else writer.negativeVarint(value);
    } else writer.double(4, value);
  } else if (value instanceof Uint8Array) writer.bytes(7, value);
  else if (Array.isArray(value)) {
    writer.begin();
    for (const item of value) {
      writer.begin();
      anyValue(writer, item);
      writer.end(1);
    }
    writer.end(5);
  } else if (typeof value === 'object' && value !== null) {
    writer.begin();
    for (const key of Object.keys(value)) {
      writer.begin();
      keyValue(writer, key, (value as Record<string, unknown>)[key]);
      writer.end(1);
    }
    writer.end(6);
  }
}

// KeyValue: 1 key, 2 value.
function keyValue(writer: ProtoWriter, key: string, value: unknown): void {
  writer.string(1, key);
  writer.begin();
  anyValue(writer, value);
  writer.end(2);
}

function attributes(writer: ProtoWriter, field: number, values: Attributes | undefined): void {
  if (!values) return;
  for (const key of Object.keys(values)) {
    writer.begin();
    keyValue(writer, key, values[key] as AttributeValue | undefined);
    writer.end(field);
  }
}

function encodeSpan(writer: ProtoWriter, span: ReadableSpan): void {
  const context = span.spanContext();
  writer.hex(1, context.traceId);
  writer.hex(2, context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) writer.string(3, traceState);
  const parent = span.parentSpanContext;
  if (parent?.spanId) writer.hex(4, parent.spanId);
  writer.string(5, span.name);
  // The api numbers kinds from 0 (INTERNAL); OTLP from 1 (0 is "unspecified").
  writer.uint(6, span.kind + 1);
  writer.time(7, span.startTime);
  writer.time(8, span.endTime);
  attributes(writer, 9, span.attributes);
  writer.uint(10, span.droppedAttributesCount);
  for (const event of span.events) {
    // Event: 1 time, 2 name, 3 attributes, 4 dropped attributes.
    writer.begin();
    writer.time(1, event.time);
    writer.string(2, event.name);
    attributes(writer, 3, event.attributes);
    writer.uint(4, event.droppedAttributesCount ?? 0);
    writer.end(11);
  }
  writer.uint(12, span.droppedEventsCount);
  for (const link of span.links) {
    // Link: 1 trace id, 2 span id, 3 trace state, 4 attributes, 5 dropped attributes, 6 flags.
    writer.begin();
    writer.hex(1, link.context.traceId);
    writer.hex(2, link.context.spanId);
    const linkState = link.context.traceState?.serialize();
    if (linkState) writer.string(3, linkState);
    attributes(writer, 4, link.attributes);
    writer.uint(5, link.droppedAttributesCount ?? 0);
    writer.fixed32(6, spanFlags(link.context.traceFlags, link.context.isRemote));
    writer.end(13);
  }
  writer.uint(14, span.droppedLinksCount);
  // Status: 2 message, 3 code.
  writer.begin();
  if (span.status.message) writer.string(2, span.status.message);
  writer.uint(3, span.status.code);
  writer.end(15);
  writer.fixed32(16, spanFlags(context.traceFlags, parent?.isRemote));
}

/** Encodes finished spans as an OTLP protobuf `ExportTraceServiceRequest`. */
export function encodeSpansProtobuf(spans: readonly ReadableSpan[]): Uint8Array {
  // Grouped by resource, then by instrumentation scope (both by identity), as OTLP nests them.
  const byResource = new Map<object, Map<object, ReadableSpan[]>>();
  for (const span of spans) {
    let scopes = byResource.get(span.resource);
    if (!scopes) {
      scopes = new Map();
      byResource.set(span.resource, scopes);
    }
    const list = scopes.get(span.instrumentationScope);
    if (list) list.push(span);
    else scopes.set(span.instrumentationScope, [span]);
  }
  const writer = new ProtoWriter();
  for (const scopes of byResource.values()) {
    // ResourceSpans: 1 resource, 2 scope spans, 3 schema url.
    writer.begin();
    const first = scopes.values().next().value![0]!;
    const resource = first.resource;
    // Resource: 1 attributes, 2 dropped attributes.
    writer.begin();
    attributes(writer, 1, resource.attributes);
    writer.uint(2, 0);
    writer.end(1);
    for (const list of scopes.values()) {
      // ScopeSpans: 1 scope, 2 spans, 3 schema url.
      writer.begin();
      const scope = list[0]!.instrumentationScope;
      // InstrumentationScope: 1 name, 2 version.
      writer.begin();
      writer.string(1, scope.name);
      if (scope.version) writer.string(2, scope.version);
      writer.end(1);
      for (const span of list) {
        writer.begin();
        encodeSpan(writer, span);
        writer.end(2);
      }
      if (scope.schemaUrl) writer.string(3, scope.schemaUrl);
      writer.end(2);
    }
    if (resource.schemaUrl) writer.string(3, resource.schemaUrl);
    writer.end(1);
  }
  return writer.finish();
}
