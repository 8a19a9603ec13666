/**
 * `knative.cloudevents`: a CloudEvents sink for Knative Eventing (brokers, triggers, sources).
 * Binary, structured and batch HTTP modes, parsed by the `cloudevents` SDK after the strict
 * checks in strict-event.ts. A returned CloudEvent goes back in binary mode.
 */
import type { Mesh, MeshContext, TraceCarrier } from '@sidecarless/core';
import { SidecarlessError } from '@sidecarless/core';
import { describeError, type InvocationFacts, prepareEvent } from '@sidecarless/core/adapter';
import {
  connectionFacts,
  createNodeServer,
  type NodeRaw,
  type NodeServer,
} from '@sidecarless/core/node-server';
import type { CloudEvent, CloudEventV1 } from 'cloudevents';
import { cloudEventParent } from './facts.js';
import { defaultProbes, type KnativeOptions, knativeSettings } from './server.js';
import { whyInvalid, withoutNulls } from './strict-event.js';

/**
 * A fresh id for a problem response. `node:crypto` is fetched on use rather than imported: an
 * ES-module import of it builds a facade that loads Web Crypto at start (see the core's
 * node-builtin.ts).
 */
function newEventId(): string {
  return process.getBuiltinModule('node:crypto').randomUUID();
}

/** What a CloudEvents handler may return: a reply event, or nothing. */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that returns nothing is typed `void`.
export type CloudEventReply = CloudEventV1<unknown> | undefined | void;

/** A CloudEvents handler: the event in, optionally a reply event out. */
export type CloudEventHandler = (
  event: CloudEvent<unknown>,
  ctx: MeshContext<NodeRaw>,
) => CloudEventReply | Promise<CloudEventReply>;

type Sdk = typeof import('cloudevents');

function invalid(reason: string, cause?: unknown): SidecarlessError {
  return new SidecarlessError('SCL_ERR_INVALID_CLOUDEVENT', reason, { status: 400, expose: true, cause });
}

function problem(error: unknown, invocationId: string): Response {
  const { status, headers, body } = describeError(error, invocationId);
  return new Response(JSON.stringify(body), { status, headers });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalid('the body is not valid JSON', error);
  }
}

/** Binary mode: the context attributes are `ce-*` headers (percent-encoded, per the HTTP binding). */
function binaryAttributes(headers: Headers): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of headers) {
    if (!name.startsWith('ce-')) continue;
    try {
      attributes[name.slice(3)] = decodeURIComponent(value);
    } catch (error) {
      throw invalid(`header "${name}" is not valid percent-encoding`, error);
    }
  }
  const contentType = headers.get('content-type');
  if (contentType !== null) attributes.datacontenttype = contentType;
  return attributes;
}

function isCloudEventLike(value: unknown): value is CloudEventV1<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.specversion === 'string' &&
    typeof candidate.id === 'string' &&
    typeof candidate.type === 'string' &&
    typeof candidate.source === 'string'
  );
}

/**
 * A media type's essence — `type/subtype`, lower-cased, parameters dropped — because media types
 * compare without case and carry parameters (RFC 9110 §8.3.1): the conformance tool sends
 * `application/cloudevents+json; charset=UTF-8`.
 */
export function mediaEssence(contentType: string | null | undefined): string {
  if (!contentType) return '';
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

const isJsonType = (essence: string) => essence === 'application/json' || essence.endsWith('+json');
const isTextType = (essence: string, contentType: string) =>
  essence.startsWith('text/') ||
  essence === 'application/xml' ||
  essence.endsWith('+xml') ||
  essence === 'application/x-www-form-urlencoded' ||
  /;\s*charset\s*=/i.test(contentType);

/**
 * Binary-mode data as the content type says: JSON parsed, text decoded as UTF-8, and anything
 * else — images, `application/octet-stream` — left as the bytes that were sent.
 */
function binaryData(bytes: Uint8Array, contentType: string | null): unknown {
  if (bytes.byteLength === 0) return undefined;
  const essence = mediaEssence(contentType);
  if (isJsonType(essence)) return parseJson(utf8(bytes));
  if (contentType === null || isTextType(essence, contentType)) return utf8(bytes);
  return bytes;
}

function utf8(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/**
 * The SDK's `CloudEvent` fills a missing `time` with the moment it is built, so an event sent
 * without one would reach the handler claiming the receive time as its occurrence time. Rebuilt
 * here without it: the same class, fields and freeze, and a `toJSON` that leaves `time` out
 * (the SDK's would turn the absent time into an invalid date).
 */
function asReceived(sdk: Sdk, event: CloudEvent<unknown>, sentTime: boolean): CloudEvent<unknown> {
  if (sentTime) return event;
  const copy = Object.create(sdk.CloudEvent.prototype) as Record<string, unknown>;
  for (const [name, value] of Object.entries(event)) if (name !== 'time') copy[name] = value;
  Object.defineProperty(copy, 'toJSON', {
    value(this: Record<string, unknown>) {
      const json: Record<string, unknown> = { ...this };
      if (json.data_base64 !== undefined && json.data !== undefined) delete json.data;
      return json;
    },
  });
  return Object.freeze(copy) as unknown as CloudEvent<unknown>;
}

/** A structured-mode event (one object of a batch, or the whole body) through the SDK. */
function structuredEvent(sdk: Sdk, event: unknown, where: string): CloudEvent<unknown> {
  const reason = whyInvalid(event, 'structured');
  if (reason) throw invalid(`${where}${reason}`);
  const clean = withoutNulls(event as Record<string, unknown>);
  let parsed: CloudEvent<unknown>;
  try {
    parsed = sdk.HTTP.toEvent<unknown>({
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify(clean),
    }) as CloudEvent<unknown>;
  } catch (error) {
    throw invalid(`${where}the CloudEvents SDK refused the event: ${(error as Error).message}`, error);
  }
  return asReceived(sdk, parsed, clean.time !== undefined);
}

/**
 * Parses the events in `request` strictly. Structured and batch bodies are checked as sent;
 * binary attributes as read from the headers. Throws a 400 naming the problem.
 */
async function readEvents(sdk: Sdk, request: Request): Promise<CloudEvent<unknown>[]> {
  const contentType = request.headers.get('content-type');
  const essence = mediaEssence(contentType);
  const bytes = new Uint8Array(await request.arrayBuffer());
  if (essence === 'application/cloudevents-batch+json') {
    const batch = parseJson(utf8(bytes));
    if (!Array.isArray(batch)) throw invalid('a batch must be a JSON array of events');
    return batch.map((event, index) => structuredEvent(sdk, event, `event ${index} of the batch: `));
  }
  if (essence === 'application/cloudevents+json') return [structuredEvent(sdk, parseJson(utf8(bytes)), '')];
  if (request.headers.has('ce-specversion') || request.headers.has('ce-id')) {
    const attributes = binaryAttributes(request.headers);
    const reason = whyInvalid(attributes, 'binary');
    if (reason) throw invalid(reason);
    const data = binaryData(bytes, contentType);
    let event: CloudEvent<unknown>;
    try {
      event = new sdk.CloudEvent<unknown>({ ...attributes, ...(data === undefined ? {} : { data }) }, false);
    } catch (error) {
      throw invalid(`the CloudEvents SDK refused the event: ${(error as Error).message}`, error);
    }
    return [asReceived(sdk, event, attributes.time !== undefined)];
  }
  throw invalid(
    'the request is not a CloudEvent: send ce-* headers (binary mode) or an application/cloudevents+json body (structured mode)',
  );
}

/**
 * The trace parent of one event: its distributed-tracing extension first (a broker may have
 * carried it across hops that did not propagate headers), else the W3C `traceparent` HTTP
 * header the delivery came with.
 */
function eventParent(event: CloudEvent<unknown>, headers: Headers): TraceCarrier | undefined {
  return (
    cloudEventParent(event as { traceparent?: unknown; tracestate?: unknown }) ??
    cloudEventParent({
      traceparent: headers.get('traceparent') ?? undefined,
      tracestate: headers.get('tracestate') ?? undefined,
    })
  );
}

/**
 * Serves a CloudEvents handler for Knative Eventing. Invalid events get 400 with the reason;
 * a handler error gets 500 (so the broker retries); a returned event is sent back in binary
 * mode, otherwise 202.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { knative } from '@sidecarless/knative';
 *
 * const mesh = createMesh({ service: 'order-events' });
 * await knative.cloudevents(mesh, (event, ctx) => {
 *   ctx.log.info({ type: event.type }, 'event received');
 *   return { specversion: '1.0', id: `${event.id}-ack`, type: 'order.acknowledged', source: '/orders', data: { ok: true } };
 * }).listen();
 * ```
 */
export function knativeCloudEvents(
  mesh: Mesh,
  handler: CloudEventHandler,
  options: KnativeOptions = {},
): NodeServer {
  const settings = knativeSettings(options);
  // The SDK costs ~170 ms to import (it loads ajv): start loading it now, at wrap time, so no
  // request pays for it and users of plain `knative()` never do.
  let sdk: Promise<Sdk> | undefined;
  const loadSdk = () => {
    sdk ??= import('cloudevents');
    return sdk;
  };
  void loadSdk().catch(() => {});
  const run = prepareEvent(mesh, handler, { enforceDeadline: true });

  const serveEvents = async (request: Request, raw: NodeRaw): Promise<Response> => {
    if (request.method !== 'POST') {
      const error = new SidecarlessError(
        'SCL_ERR_METHOD_NOT_ALLOWED',
        'CloudEvents are delivered with POST',
        {
          status: 405,
          expose: true,
          headers: { allow: 'POST' },
        },
      );
      return problem(error, newEventId());
    }
    let events: CloudEvent<unknown>[];
    const cloudevents = await loadSdk();
    try {
      events = await readEvents(cloudevents, request);
    } catch (error) {
      return problem(error, newEventId());
    }
    const replies: CloudEventV1<unknown>[] = [];
    for (const event of events) {
      const parent = eventParent(event, request.headers);
      const facts: InvocationFacts = {
        platform: 'knative',
        trigger: 'pubsub',
        invocationId: event.id,
        attributes: settings.attributes,
        // The event's own trace context before the HTTP request's (eventParent). One CONSUMER
        // span per event.
        telemetry: {
          ...settings.telemetry,
          kind: 'consumer',
          spanName: `${event.type} process`,
          ...(parent ? { parent } : {}),
        },
        ...connectionFacts(raw.request),
        raw,
      };
      try {
        const reply = await run(event, facts);
        if (isCloudEventLike(reply)) replies.push(reply);
      } catch (error) {
        return problem(error, event.id);
      }
    }
    if (replies.length === 0) return new Response(null, { status: 202 });
    try {
      if (events.length === 1 && replies.length === 1) {
        const message = cloudevents.HTTP.binary(new cloudevents.CloudEvent(replies[0]!));
        return new Response(message.body as string, {
          status: 200,
          headers: message.headers as Record<string, string>,
        });
      }
      const batch = replies.map((reply) => new cloudevents.CloudEvent(reply).toJSON());
      return new Response(JSON.stringify(batch), {
        status: 200,
        headers: { 'content-type': 'application/cloudevents-batch+json; charset=utf-8' },
      });
    } catch (error) {
      const refused = new SidecarlessError(
        'SCL_ERR_INVALID_HANDLER_RESULT',
        'the handler returned an event that is not a valid CloudEvent',
        { status: 500, cause: error },
      );
      mesh.log.error({ err: error }, 'reply event refused');
      return problem(refused, events[0]?.id ?? newEventId());
    }
  };
  return createNodeServer(mesh, serveEvents, settings.server, { port: settings.port, probes: defaultProbes });
}
