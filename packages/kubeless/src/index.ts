/**
 * @sidecarless/kubeless — the Kubeless Node runtime's `(event, context)` handler shape. The
 * Kubeless project is archived upstream, but existing clusters still run it.
 *
 * The runtime (an Express app) hands the function `event.data` (the body as text, or parsed
 * JSON in later runtime versions), `event['event-id']` and `event.extensions.request` — plus
 * `event.extensions.response` in later versions. We rebuild a standard `Request` from them,
 * run the handler through the mesh, and write the `Response` straight to the Node response
 * when the runtime gives us one (status, headers and binary bodies intact).
 *
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, type HttpHandler, type Mesh } from '@sidecarless/core';
import { asBadRequest, errorToResponse, prepareHttp, targetUrl } from '@sidecarless/core/adapter';
import {
  checkShutdownOptions,
  connectionFacts,
  cutRemaining,
  GracePeriod,
  InFlight,
  type NormalizedShutdownOptions,
  onShutdownSignals,
  type ShutdownOptions,
  writeResponse,
} from '@sidecarless/core/node-server';

/** The event the Kubeless Node runtime passes. */
export interface KubelessEvent {
  readonly data?: unknown;
  readonly 'event-id'?: string | undefined;
  readonly 'event-type'?: string | undefined;
  readonly 'event-time'?: string | undefined;
  readonly 'event-namespace'?: string | undefined;
  readonly extensions?: {
    /** The Express request; `body` holds the raw bytes (body-parser `raw`). */
    readonly request?: IncomingMessage & { body?: unknown };
    readonly response?: ServerResponse;
  };
}

/** The context the Kubeless Node runtime passes. */
export interface KubelessContext {
  readonly 'function-name'?: string;
  /** Seconds (the function's `timeout`, from `FUNC_TIMEOUT`). */
  readonly timeout?: number | string;
  readonly runtime?: string;
  readonly 'memory-limit'?: string;
}

/** What `ctx.raw` holds under Kubeless. */
export interface KubelessRaw {
  readonly event: KubelessEvent;
  readonly context: KubelessContext;
}

/** The function the runtime calls. Resolves with nothing when it wrote the response itself. */
export interface KubelessFunction {
  (event: KubelessEvent, context: KubelessContext): Promise<string | undefined>;
  /**
   * Drains as a shutdown signal does: lets in-flight invocations finish within the grace period,
   * answers those still running with a 503, then runs `mesh.flush()`. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Options of {@link kubeless}: what to do on a shutdown signal (`gracePeriod`, `shutdownSignals`,
 * `exitOnShutdown`). The runtime owns the server and has no drain of its own: without the
 * adapter's, SIGTERM kills the process with requests in flight and spans unexported.
 */
export type KubelessOptions = ShutdownOptions;

const knownOptions = ['gracePeriod', 'shutdownSignals', 'exitOnShutdown'];

function checkOptions(options: KubelessOptions): NormalizedShutdownOptions {
  const issues = Object.keys(options)
    .filter((key) => !knownOptions.includes(key))
    .map((key) => ({
      path: `kubeless.${key}`,
      message: `unknown option; known keys: ${knownOptions.join(', ')}`,
    }));
  const checked = checkShutdownOptions(options, 'kubeless', issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return checked;
}

function timeoutMs(context: KubelessContext): number | undefined {
  const seconds = Number(context.timeout ?? process.env.FUNC_TIMEOUT);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1_000 : undefined;
}

function bodyOf(event: KubelessEvent): Uint8Array | string | undefined {
  const raw = event.extensions?.request?.body;
  if (Buffer.isBuffer(raw))
    return raw.length === 0 ? undefined : new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  const data = event.data;
  if (data === undefined || data === null || data === '') return undefined;
  if (typeof data === 'string') return data;
  if (Buffer.isBuffer(data)) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  return JSON.stringify(data);
}

function toRequest(event: KubelessEvent): Request {
  const incoming = event.extensions?.request;
  const headers = new Headers();
  let url = 'http://localhost/';
  let method = 'POST';
  if (incoming) {
    const raw = incoming.rawHeaders ?? [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (name === 'content-length' || name === 'transfer-encoding' || name === 'connection') continue;
      headers.append(raw[i]!, raw[i + 1]!);
    }
    // Express keeps the original URL on `originalUrl` when a router rewrote `url`.
    const path = (incoming as { originalUrl?: string }).originalUrl ?? incoming.url ?? '/';
    // The runtime's server is plain HTTP; an invalid Host or target is a 400 (see targetUrl).
    url = targetUrl('http', incoming.headers.host, path);
    method = incoming.method ?? 'POST';
  }
  const body = method === 'GET' || method === 'HEAD' ? undefined : bodyOf(event);
  return new Request(url, { method, headers, ...(body === undefined ? {} : { body }) });
}

/**
 * Returns the Kubeless runtime handler for `handler`: deploy it with
 * `kubeless function deploy … --handler handler.main`.
 *
 * @example
 * ```js
 * // handler.js
 * const { createMesh } = require('@sidecarless/core');
 * const { kubeless } = require('@sidecarless/kubeless');
 *
 * const mesh = createMesh({ service: 'hello' });
 * module.exports.main = kubeless(mesh, async (request, ctx) => Response.json({ id: ctx.invocationId }));
 * ```
 */
export function kubeless(
  mesh: Mesh,
  handler: HttpHandler<KubelessRaw>,
  options: KubelessOptions = {},
): KubelessFunction {
  const { gracePeriodMs: graceMs, shutdownSignals: signals, exitOnShutdown } = checkOptions(options);
  const run = prepareHttp(mesh, handler, { enforceDeadline: true });
  const inFlight = new InFlight();
  let grace: GracePeriod | undefined;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      try {
        grace = new GracePeriod(graceMs);
        if ((await grace.race(inFlight.idle())) === 'expired') await cutRemaining(mesh, inFlight);
      } finally {
        stopListening();
        await mesh.flush();
      }
    })();
    return closing;
  };
  const stopListening = onShutdownSignals(
    mesh,
    signals,
    close,
    () => grace?.expire(),
    () => ({ in_flight: inFlight.count, grace_ms: graceMs }),
    exitOnShutdown,
  );
  const serve = async (event: KubelessEvent, context: KubelessContext): Promise<string | undefined> => {
    inFlight.start();
    try {
      return await invoke(event, context);
    } finally {
      inFlight.end();
    }
  };
  const invoke = async (event: KubelessEvent, context: KubelessContext): Promise<string | undefined> => {
    const limit = timeoutMs(context);
    let request: Request;
    try {
      request = toRequest(event);
    } catch (error) {
      // Refused before the handler runs: an invalid Host, or a request Fetch cannot represent.
      const refusal = errorToResponse(asBadRequest(error), crypto.randomUUID());
      const res = event.extensions?.response;
      if (res && !res.headersSent) {
        await writeResponse(res, refusal, event.extensions?.request?.method ?? 'POST');
        return undefined;
      }
      return refusal.text();
    }
    const response = await run(request, {
      platform: 'kubeless',
      // Event triggers (Kafka, NATS, cron) set `event-namespace`, e.g. `kafkatriggers.kubeless.io`.
      trigger: event['event-namespace'] ? 'pubsub' : 'http',
      invocationId: event['event-id'] || undefined,
      deadline: limit === undefined ? undefined : Date.now() + limit,
      // The runtime's own server accepted the connection: its socket is the peer.
      ...(event.extensions?.request?.socket ? connectionFacts(event.extensions.request) : {}),
      raw: { event, context },
    });
    const res = event.extensions?.response;
    if (res && !res.headersSent) {
      // Draining: the runtime's server keeps the connection alive otherwise, and the process exits.
      await writeResponse(res, response, request.method, closing !== undefined);
      return undefined;
    }
    // An older runtime without `extensions.response` can only send a 200 with a text body.
    if (response.status !== 200)
      mesh.log.warn({ status: response.status }, 'this Kubeless runtime cannot send a status other than 200');
    return response.text();
  };
  return Object.assign(serve, { close });
}
