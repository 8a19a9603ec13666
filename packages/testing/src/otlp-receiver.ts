/**
 * A real OTLP/HTTP trace receiver on 127.0.0.1 for tests: it accepts what an OpenTelemetry
 * exporter POSTs to `/v1/traces` in the OTLP JSON encoding (gzip or not), decodes it into plain
 * span records, and answers like a collector does.
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
};
type KeyValue = { key: string; value?: AnyValue };

function decodeValue(value: AnyValue | undefined): unknown {
  if (value === undefined) return undefined;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue;
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(decodeValue);
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

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId?: string;
        spanId?: string;
        parentSpanId?: string;
        name?: string;
        kind?: number;
        attributes?: KeyValue[];
        status?: { code?: number; message?: string };
        links?: { traceId?: string; spanId?: string }[];
        events?: { name?: string; attributes?: KeyValue[] }[];
        startTimeUnixNano?: string | number;
        endTimeUnixNano?: string | number;
      }[];
    }[];
  }[];
}

/** Decodes an OTLP JSON `ExportTraceServiceRequest` into spans. Throws on malformed ids. */
export function decodeOtlpJson(body: ExportRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of body.resourceSpans ?? []) {
    const resource = decodeAttributes(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
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
  const waiters = new Set<() => void>();
  const server = createServer((request, response) => {
    requests++;
    if (request.method !== 'POST' || request.url !== '/v1/traces') {
      response.writeHead(404).end();
      return;
    }
    if (!String(request.headers['content-type']).startsWith('application/json')) {
      response.writeHead(415, { 'content-type': 'text/plain' }).end('this receiver decodes OTLP JSON only');
      return;
    }
    readBody(request)
      .then((body) => {
        spans.push(...decodeOtlpJson(JSON.parse(body.toString('utf8')) as ExportRequest));
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
