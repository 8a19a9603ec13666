/**
 * A span exporter speaking OTLP/HTTP (`POST /v1/traces`) with the JSON encoding
 * (`application/json`) or, given the protobuf encoder (otlp-protobuf.ts, loaded only for
 * `http/protobuf`), `application/x-protobuf`; gzip on request. On `node:http` (or `node:https`)
 * with a keep-alive agent.
 *
 * Why our own and not `@opentelemetry/exporter-trace-otlp-http`: that package pulls in the
 * OTLP transformer, which loads the metrics and logs SDKs too — measured, it costs as much to
 * import as the whole tracing SDK, and cold start is the product. The wire format is small and stable; this file is the whole of it. Each export is
 * bounded by `timeoutMs` and never retried: on Lambda the remaining time is the budget.
 */

import type * as Http from 'node:http';
import type * as Zlib from 'node:zlib';
import {
  type Attributes,
  type AttributeValue,
  type HrTime,
  context as otelContext,
} from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { nodeBuiltin } from '@sidecarless/core/feature';
import { suppressTracingKey } from './tracer-registry.js';

/** `ExportResultCode` of the SDK: 0 success, 1 failed. */
const success = 0;
const failed = 1;

type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: number }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } };

function anyValue(value: AttributeValue): AnyValue {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number')
    return Number.isInteger(value) ? { intValue: value } : { doubleValue: value };
  return {
    arrayValue: {
      values: (value as unknown[]).filter((v) => v != null).map((v) => anyValue(v as AttributeValue)),
    },
  };
}

function keyValues(attributes: Attributes | undefined): { key: string; value: AnyValue }[] {
  const out: { key: string; value: AnyValue }[] = [];
  if (!attributes) return out;
  for (const key of Object.keys(attributes)) {
    const value = attributes[key];
    if (value !== undefined && value !== null) out.push({ key, value: anyValue(value) });
  }
  return out;
}

function nanos(time: HrTime): string {
  return (BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])).toString();
}

/**
 * OTLP's `SpanFlags`: the W3C trace flags in the low byte, bit 8 "whether the parent is remote is
 * known" (always, here), bit 9 "the parent is remote".
 */
export function spanFlags(traceFlags: number, remote: boolean | undefined): number {
  return (traceFlags & 0xff) | 0x100 | (remote ? 0x200 : 0);
}

/** Encodes finished spans as an OTLP JSON `ExportTraceServiceRequest`. */
export function encodeSpans(spans: readonly ReadableSpan[]): string {
  // Group by resource, then by instrumentation scope, as OTLP nests them.
  const byResource = new Map<
    object,
    {
      resource: Attributes;
      scopes: Map<string, { scope: { name: string; version?: string }; spans: unknown[] }>;
    }
  >();
  for (const span of spans) {
    let group = byResource.get(span.resource);
    if (!group) {
      group = { resource: span.resource.attributes, scopes: new Map() };
      byResource.set(span.resource, group);
    }
    const scopeInfo = span.instrumentationScope;
    const scopeKey = `${scopeInfo.name}@${scopeInfo.version ?? ''}`;
    let scope = group.scopes.get(scopeKey);
    if (!scope) {
      scope = {
        scope: scopeInfo.version
          ? { name: scopeInfo.name, version: scopeInfo.version }
          : { name: scopeInfo.name },
        spans: [],
      };
      group.scopes.set(scopeKey, scope);
    }
    const context = span.spanContext();
    const parent = span.parentSpanContext;
    scope.spans.push({
      traceId: context.traceId,
      spanId: context.spanId,
      ...(context.traceState ? { traceState: context.traceState.serialize() } : {}),
      ...(parent ? { parentSpanId: parent.spanId } : {}),
      name: span.name,
      // The api numbers kinds from 0 (INTERNAL); OTLP from 1 (0 is "unspecified").
      kind: span.kind + 1,
      startTimeUnixNano: nanos(span.startTime),
      endTimeUnixNano: nanos(span.endTime),
      attributes: keyValues(span.attributes),
      droppedAttributesCount: span.droppedAttributesCount,
      events: span.events.map((event) => ({
        timeUnixNano: nanos(event.time),
        name: event.name,
        attributes: keyValues(event.attributes),
        droppedAttributesCount: event.droppedAttributesCount ?? 0,
      })),
      droppedEventsCount: span.droppedEventsCount,
      links: span.links.map((link) => ({
        traceId: link.context.traceId,
        spanId: link.context.spanId,
        ...(link.context.traceState ? { traceState: link.context.traceState.serialize() } : {}),
        attributes: keyValues(link.attributes),
        droppedAttributesCount: link.droppedAttributesCount ?? 0,
        flags: spanFlags(link.context.traceFlags, link.context.isRemote),
      })),
      droppedLinksCount: span.droppedLinksCount,
      status: span.status.message
        ? { code: span.status.code, message: span.status.message }
        : { code: span.status.code },
      flags: spanFlags(context.traceFlags, parent?.isRemote),
    });
  }
  return JSON.stringify({
    resourceSpans: [...byResource.values()].map((group) => ({
      resource: { attributes: keyValues(group.resource), droppedAttributesCount: 0 },
      scopeSpans: [...group.scopes.values()],
    })),
  });
}

export interface OtlpHttpExporterOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  /** Given: the protobuf encoding (`http/protobuf`); absent: JSON. */
  readonly encodeProtobuf?: ((spans: readonly ReadableSpan[]) => Uint8Array) | undefined;
  /** `gzip`: compress each body (`content-encoding: gzip`). */
  readonly compression?: 'gzip' | 'none' | undefined;
}

/** The exporter, and a way to open its connection before the first spans. */
export interface OtlpHttpExporter extends SpanExporter {
  /**
   * Opens the keep-alive connection now, with an empty export request (valid OTLP: a collector
   * answers it 200), so the first real export does not connect — on Lambda the first export
   * after a cold start otherwise connected inside the deadline's safety margin. Never rejects;
   * resolves with whether the collector answered.
   */
  prepare(): Promise<boolean>;
}

/** Creates the exporter. Its `shutdown` closes the keep-alive connections. */
export function createOtlpHttpExporter(options: OtlpHttpExporterOptions): OtlpHttpExporter {
  const url = new URL(options.url);
  const secure = url.protocol === 'https:';
  // Only the module the endpoint needs is loaded, when the exporter is made (see
  // node-builtin.ts): `node:https` is not worth loading for a collector on plain HTTP (a
  // sidecar, localhost).
  const transport: Pick<typeof Http, 'Agent' | 'request'> = secure
    ? nodeBuiltin('node:https')
    : nodeBuiltin('node:http');
  // Keep-alive: a Lambda flush per invocation reuses the connection instead of a new handshake.
  const agent = new transport.Agent({ keepAlive: true, maxSockets: 4 });
  const send = transport.request;
  const pending = new Set<Promise<void>>();
  const encodeProtobuf = options.encodeProtobuf;
  const contentType = encodeProtobuf ? 'application/x-protobuf' : 'application/json';
  const encode: (spans: readonly ReadableSpan[]) => string | Uint8Array = encodeProtobuf ?? encodeSpans;
  const zlib: typeof Zlib | undefined =
    options.compression === 'gzip' ? process.getBuiltinModule('node:zlib') : undefined;
  const baseHeaders: Record<string, string> = { ...options.headers, 'content-type': contentType };
  if (zlib) baseHeaders['content-encoding'] = 'gzip';

  const compressed = (body: string | Uint8Array): Promise<string | Uint8Array> =>
    zlib === undefined
      ? Promise.resolve(body)
      : new Promise((resolve, reject) =>
          zlib.gzip(body, (error, result) => (error ? reject(error) : resolve(result))),
        );

  const post = (raw: string | Uint8Array): Promise<boolean> =>
    compressed(raw).then(
      (body) =>
        new Promise<boolean>((resolve) => {
          const suppressed = otelContext.active().setValue(suppressTracingKey, true);
          otelContext.with(suppressed, sendBody, undefined, body, resolve);
        }),
      () => false,
    );

  function sendBody(body: string | Uint8Array, resolve: (ok: boolean) => void): void {
    const request = send(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          ...baseHeaders,
          'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
        },
        timeout: options.timeoutMs,
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve((response.statusCode ?? 500) < 300));
        response.on('error', () => resolve(false));
      },
    );
    request.on('timeout', () => request.destroy(new Error('OTLP export timed out')));
    request.on('error', () => resolve(false));
    request.end(body);
  }

  return {
    prepare() {
      // An empty request: `{"resourceSpans":[]}` in JSON, zero bytes in protobuf.
      const work = post(encodeProtobuf ? new Uint8Array(0) : '{"resourceSpans":[]}');
      const tracked = work.then(() => {});
      pending.add(tracked);
      void tracked.finally(() => pending.delete(tracked));
      return work;
    },
    export(spans, resultCallback) {
      const work = post(encode(spans)).then((ok) => {
        resultCallback(
          ok ? { code: success } : { code: failed, error: new Error(`OTLP export to ${url.host} failed`) },
        );
      });
      pending.add(work);
      void work.finally(() => pending.delete(work));
    },
    async forceFlush() {
      await Promise.all(pending);
    },
    async shutdown() {
      await Promise.all(pending);
      agent.destroy();
    },
  };
}
