/**
 * `knative.func`: the module shape the Knative Functions Node runtime (`faas-js-runtime`)
 * loads — `{ init, shutdown, handle, liveness, readiness }` — so a `func` project can adopt
 * the mesh without changing its build. The runtime owns the server; we translate its context
 * into a `Request` and our `Response` into the `{ statusCode, headers, body }` it sends.
 */
import type { HttpHandler, Mesh } from '@sidecarless/core';
import { asBadRequest, errorToResponse, prepareHttp, requestOrigin } from '@sidecarless/core/adapter';
import { cloudEventParent, knativeAttributes, knativeTelemetry } from './facts.js';

/** The parts of faas-js-runtime's invocation context we read (its `Context` class). */
export interface FuncContext {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query?: Readonly<Record<string, unknown>>;
  /** The body as the runtime parsed it: a Buffer, a string, or an object for JSON and forms. */
  readonly body?: unknown;
  /** The unparsed body as text, when the runtime runs with `includeRaw`. */
  readonly rawBody?: string | undefined;
  /** The CloudEvent the runtime parsed from the request, if it was one. */
  readonly cloudevent?: {
    readonly id?: string;
    readonly traceparent?: unknown;
    readonly tracestate?: unknown;
  };
}

/** What the runtime sends back. */
export interface FuncResult {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer | string;
}

/** The parts of a Fastify reply the probe handlers use. */
export interface ProbeReply {
  code(status: number): ProbeReply;
  header(name: string, value: string): ProbeReply;
  send(payload?: string): unknown;
}

/** The module shape faas-js-runtime loads. */
export interface FuncModule {
  init(): Promise<void>;
  shutdown(): Promise<void>;
  handle(context: FuncContext, body?: unknown): Promise<FuncResult>;
  /** A Fastify route handler (the runtime's reply is typed loosely upstream, hence `unknown`). */
  liveness(request: unknown, reply: unknown): void;
  /** A Fastify route handler: 200 once `init` finished, 503 before and during shutdown. */
  readiness(request: unknown, reply: unknown): void;
}

/** What `ctx.raw` holds under the Knative Functions runtime: its invocation context. */
export interface FuncRaw {
  readonly context: FuncContext;
}

/** Options of {@link knativeFunc}. */
export interface KnativeFuncOptions {
  /**
   * The runtime routes only `/` to the function. Behind a gateway that rewrites every path to
   * `/` and keeps the original in a header, name that header here and the handler sees the
   * original path (the header itself is removed). Off by default.
   */
  originalPathHeader?: string;
  /** The environment to read `K_SERVICE`/`K_REVISION`/`K_CONFIGURATION` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const dropped = new Set(['content-length', 'transfer-encoding', 'connection']);

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function bodyOf(context: FuncContext): Uint8Array | string | undefined {
  const { body, rawBody } = context;
  if (Buffer.isBuffer(body)) return new Uint8Array(body.buffer, body.byteOffset, body.length);
  if (typeof rawBody === 'string') return rawBody;
  if (typeof body === 'string') return body;
  if (body === undefined || body === null) return undefined;
  // The runtime parsed JSON (or a form) into an object and kept no raw text: re-serialise it.
  return JSON.stringify(body);
}

function searchOf(query: Readonly<Record<string, unknown>> | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (Array.isArray(value)) for (const item of value) params.append(name, String(item));
    else if (value !== undefined) params.append(name, String(value));
  }
  const text = params.toString();
  return text === '' ? '' : `?${text}`;
}

/**
 * Returns the module shape the Knative Functions Node runtime loads.
 *
 * @example
 * ```ts
 * // index.js of a `func create -l node` project
 * import { createMesh } from '@sidecarless/core';
 * import { knative } from '@sidecarless/knative';
 *
 * const mesh = createMesh({ service: 'hello' });
 * const fn = knative.func(mesh, async (request, ctx) => Response.json({ id: ctx.invocationId }));
 * export const { init, shutdown, handle, liveness, readiness } = fn;
 * ```
 */
export function knativeFunc(
  mesh: Mesh,
  handler: HttpHandler<FuncRaw>,
  options: KnativeFuncOptions = {},
): FuncModule {
  const run = prepareHttp(mesh, handler, { enforceDeadline: true });
  const attributes = knativeAttributes(options.env ?? process.env);
  const telemetry = knativeTelemetry(options.env ?? process.env);
  const pathHeader = options.originalPathHeader?.toLowerCase();
  let state: 'starting' | 'ready' | 'failed' | 'stopping' = 'starting';

  const probe = (up: boolean, reply: unknown) => {
    (reply as ProbeReply)
      .code(up ? 200 : 503)
      .header('content-type', 'text/plain; charset=utf-8')
      .send(up ? 'ok' : state);
  };

  return {
    async init() {
      try {
        await mesh.ready();
        state = 'ready';
      } catch (error) {
        state = 'failed';
        throw error;
      }
    },
    async shutdown() {
      state = 'stopping';
      await mesh.close();
    },
    liveness: (_request, reply) => probe(state !== 'failed', reply),
    readiness: (_request, reply) => probe(state === 'ready', reply),
    async handle(context) {
      let request: Request;
      try {
        request = requestOf(context, pathHeader);
      } catch (error) {
        // An invalid Host (or a request Fetch cannot represent) is a 400 before the handler runs.
        return reply(errorToResponse(error, crypto.randomUUID()));
      }
      const event = context.cloudevent;
      const parent = cloudEventParent(event);
      const response = await run(request, {
        platform: 'knative',
        trigger: event ? 'pubsub' : 'http',
        invocationId: event?.id,
        attributes,
        telemetry: event ? { ...telemetry, kind: 'consumer', ...(parent ? { parent } : {}) } : telemetry,
        raw: { context },
      });
      return reply(response);
    },
  };
}

/** The Fetch request for the runtime's context; throws a 400 `SidecarlessError` for an invalid Host. */
function requestOf(context: FuncContext, pathHeader: string | undefined): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(context.headers)) {
    if (value === undefined || dropped.has(name) || name === pathHeader) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.append(name, value);
  }
  let path = '/';
  const original = pathHeader ? firstValue(context.headers[pathHeader]) : undefined;
  if (original?.startsWith('/') && !original.startsWith('//')) path = original.split('?', 1)[0]!;
  const method = context.method;
  const body = method === 'GET' || method === 'HEAD' ? undefined : bodyOf(context);
  try {
    return new Request(
      `${requestOrigin('http', firstValue(context.headers.host))}${path}${searchOf(context.query)}`,
      {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
      },
    );
  } catch (error) {
    throw asBadRequest(error);
  }
}

/** The runtime's reply object for a Fetch response. */
async function reply(response: Response): Promise<FuncResult> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) if (name !== 'set-cookie') out[name] = value;
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  const bytes = Buffer.from(await response.arrayBuffer());
  // The runtime treats an undefined body as "send the whole result object": send '' instead.
  return { statusCode: response.status, headers: out, body: bytes.length === 0 ? '' : bytes };
}
