/**
 * `openfaas.classic`: the shape of the official Node template's `handler.js` —
 * `(event, context)` with `context.status().headers().succeed()/fail()` — so a function can
 * keep the stock template and still run through the mesh.
 */
import type { HttpHandler, Mesh, MeshContext } from '@sidecarless/core';
import { SidecarlessError } from '@sidecarless/core';
import type { NodeServer } from '@sidecarless/core/node-server';
import { type OpenFaasOptions, type OpenFaasRaw, openfaasServer } from './server.js';

/** The template's `event`. */
export interface ClassicEvent {
  /** Parsed JSON for `application/json`, a string for `text/*`, otherwise the raw bytes (empty: undefined). */
  body: unknown;
  /** Request headers, lower-cased. */
  headers: Record<string, string>;
  method: string;
  query: Record<string, string>;
  path: string;
}

/** The template's `context`: set the status and headers, then succeed or fail. */
export interface ClassicContext {
  status(): number;
  status(code: number): ClassicContext;
  headers(): Record<string, string>;
  headers(values: Record<string, string>): ClassicContext;
  succeed(value?: unknown): void;
  fail(error: unknown): void;
}

/** A stock-template handler; the third argument is the mesh context (deadline, logger, upstreams). */
export type ClassicHandler = (
  event: ClassicEvent,
  context: ClassicContext,
  ctx: MeshContext<OpenFaasRaw>,
) => unknown;

async function readBody(request: Request): Promise<unknown> {
  if (request.body === null) return undefined;
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  if (type.startsWith('application/json') || /^application\/[^;]*\+json/.test(type)) {
    const text = await request.text();
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new SidecarlessError('SCL_ERR_BAD_REQUEST', 'the request body is not valid JSON', {
        status: 400,
        cause: error,
      });
    }
  }
  if (type.startsWith('text/')) return request.text();
  const bytes = Buffer.from(await request.arrayBuffer());
  return bytes.length === 0 ? undefined : bytes;
}

function toResponse(value: unknown, status: number, headers: Record<string, string>): Response {
  const out = new Headers(headers);
  let body: ConstructorParameters<typeof Response>[0] = null;
  if (value === undefined || value === null) {
    body = null;
  } else if (typeof value === 'string') {
    body = value;
    if (!out.has('content-type')) out.set('content-type', 'text/html; charset=utf-8');
  } else if (value instanceof Uint8Array) {
    body = value;
    if (!out.has('content-type')) out.set('content-type', 'application/octet-stream');
  } else {
    body = JSON.stringify(value);
    if (!out.has('content-type')) out.set('content-type', 'application/json; charset=utf-8');
  }
  return new Response(status === 204 || status === 304 ? null : body, { status, headers: out });
}

/** Adapts a stock-template handler to an HTTP handler. @internal */
export function classicHandler(fn: ClassicHandler): HttpHandler<OpenFaasRaw> {
  return async function openfaasClassic(request, ctx) {
    const url = new URL(request.url);
    const event: ClassicEvent = {
      body: await readBody(request),
      headers: Object.fromEntries(request.headers),
      method: request.method,
      query: Object.fromEntries(url.searchParams),
      path: url.pathname,
    };
    let status = 200;
    let headers: Record<string, string> = {};
    let settle: { ok: true; value: unknown } | { ok: false; error: unknown } | undefined;
    let wake: (() => void) | undefined;
    const settled = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const finish = (outcome: NonNullable<typeof settle>) => {
      settle ??= outcome;
      wake?.();
    };
    const context = {
      status(code?: number) {
        if (code === undefined) return status;
        status = code;
        return context;
      },
      headers(values?: Record<string, string>) {
        if (values === undefined) return headers;
        headers = values;
        return context;
      },
      succeed: (value?: unknown) => finish({ ok: true, value }),
      fail: (error: unknown) => finish({ ok: false, error }),
    } as ClassicContext;
    // Like the template: when the handler's (possibly async) return settles and it has not called
    // succeed()/fail() yet, its value counts as succeed(value) and a rejection as fail(error).
    Promise.resolve()
      .then(() => fn(event, context, ctx))
      .then(
        (value) => finish({ ok: true, value }),
        (error: unknown) => finish({ ok: false, error }),
      );
    await settled;
    const outcome = settle!;
    // fail() goes through the mesh's error mapping: an unexpected error is a bare 500 that leaks
    // no message (the stock template sends err.toString() to the caller; we do not).
    if (!outcome.ok) throw outcome.error;
    return toResponse(outcome.value, status, headers);
  };
}

/**
 * Serves a stock OpenFaaS Node template handler through the mesh.
 *
 * @example
 * ```js
 * // handler.js (CommonJS, as the template has it)
 * const { createMesh } = require('@sidecarless/core');
 * const { openfaas } = require('@sidecarless/openfaas');
 *
 * const mesh = createMesh({ service: 'hello' });
 * openfaas.classic(mesh, async (event, context) => {
 *   return context.status(201).headers({ 'x-path': event.path }).succeed({ got: event.body });
 * }).listen();
 * ```
 */
export function openfaasClassic(mesh: Mesh, fn: ClassicHandler, options: OpenFaasOptions = {}): NodeServer {
  return openfaasServer(mesh, classicHandler(fn), options);
}
