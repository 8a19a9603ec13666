/**
 * `knative.cloudevents`: a CloudEvents sink for Knative Eventing (brokers, triggers, sources).
 * Binary, structured and batch HTTP modes, parsed by the `cloudevents` SDK after the strict
 * checks in strict-event.ts. A returned CloudEvent goes back in binary mode.
 */
import type { Mesh, MeshContext } from '@sidecarless/core';
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

function plainHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) out[name] = value;
  return out;
}

/**
 * Parses the events in `request` strictly. Structured and batch bodies are checked as sent;
 * binary attributes as read from the headers. Throws a 400 naming the problem.
 */
async function readEvents(sdk: Sdk, request: Request): Promise<CloudEvent<unknown>[]> {
  const contentType = (request.headers.get('content-type') ?? '').toLowerCase();
  const text = await request.text();
  const headers = plainHeaders(request.headers);
  const toEvents = (message: { headers: Record<string, string>; body: string }): CloudEvent<unknown>[] => {
    try {
      const parsed = sdk.HTTP.toEvent<unknown>(message);
      return (Array.isArray(parsed) ? parsed : [parsed]) as CloudEvent<unknown>[];
    } catch (error) {
      throw invalid(`the CloudEvents SDK refused the event: ${(error as Error).message}`, error);
    }
  };
  if (contentType.startsWith('application/cloudevents-batch+json')) {
    const batch = parseJson(text);
    if (!Array.isArray(batch)) throw invalid('a batch must be a JSON array of events');
    batch.forEach((event, index) => {
      const reason = whyInvalid(event, 'structured');
      if (reason) throw invalid(`event ${index} of the batch: ${reason}`);
    });
    const clean = batch.map((event) => withoutNulls(event as Record<string, unknown>));
    return toEvents({ headers, body: JSON.stringify(clean) });
  }
  if (contentType.startsWith('application/cloudevents+json')) {
    const event = parseJson(text);
    const reason = whyInvalid(event, 'structured');
    if (reason) throw invalid(reason);
    return toEvents({ headers, body: JSON.stringify(withoutNulls(event as Record<string, unknown>)) });
  }
  if (request.headers.has('ce-specversion') || request.headers.has('ce-id')) {
    const reason = whyInvalid(binaryAttributes(request.headers), 'binary');
    if (reason) throw invalid(reason);
    return toEvents({ headers, body: text });
  }
  throw invalid(
    'the request is not a CloudEvent: send ce-* headers (binary mode) or an application/cloudevents+json body (structured mode)',
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
      const parent = cloudEventParent(event as { traceparent?: unknown; tracestate?: unknown });
      const facts: InvocationFacts = {
        platform: 'knative',
        trigger: 'pubsub',
        invocationId: event.id,
        attributes: settings.attributes,
        // The event's own trace context, not the HTTP request's: a broker may have carried it
        // across hops that did not propagate headers. One CONSUMER span per event.
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
