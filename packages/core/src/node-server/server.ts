/**
 * The Node HTTP server the container platforms share (OpenFaaS, Knative, Kubeless' test
 * runtime): translation in and out, body limits, probes, timeouts, and drain on SIGTERM.
 * Adapters add only their platform's facts through the `serve` function they pass in.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { prepareHttp } from '../adapter.js';
import type { InvocationFacts } from '../context.js';
import { describeError } from '../error-response.js';
import type { Mesh } from '../mesh.js';
import { nodeBuiltin } from '../node-builtin.js';
import type { HttpHandler } from '../pipeline.js';
import { connectionFacts } from './connection.js';
import { type NodeServerOptions, normalizeServerOptions, type ServerDefaults } from './options.js';
import { bodyTooLarge, declaredTooLarge, toRequest } from './request.js';
import { sendResponse } from './response.js';
import { cutRemaining, GracePeriod, InFlight, onShutdownSignals } from './shutdown.js';

/** What `ctx.raw` holds for a request served by the Node server. */
export interface NodeRaw {
  /** The Node request (its `socket` is a `TLSSocket` when the server terminates TLS). */
  readonly request: IncomingMessage;
  /** The Node response; do not write to it — return a `Response` instead. */
  readonly response: ServerResponse;
}

/** Turns one translated request into a response: what an adapter plugs into the server. */
export type Serve = (request: Request, raw: NodeRaw) => Promise<Response>;

/** Where the server is in its life. */
export type ServerState = 'idle' | 'starting' | 'ready' | 'failed' | 'draining' | 'closed';

/** A running (or ready to run) server. */
export interface NodeServer {
  /** The underlying `node:http` (or `node:https`) server. */
  readonly server: Server;
  /** Where the server is in its life; readiness answers 200 only in `ready`. */
  readonly state: ServerState;
  /** Requests being served right now. */
  readonly inFlight: number;
  /** Binds and starts the mesh's init work; resolves with the bound address. */
  listen(port?: number): Promise<{ host: string; port: number; url: string }>;
  /**
   * Drains: stops accepting connections, serves what arrives on open ones with `connection:
   * close`, lets in-flight requests finish within the grace period — then answers those still
   * running with a 503 (their spans and access lines end as errors) — and runs `mesh.flush()`.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** Facts an adapter derives from each request. */
export type FactsOf = (incoming: IncomingMessage) => InvocationFacts;

/**
 * An HTTP `serve` function: the handler through `mesh`'s pipeline, with the deadline enforced
 * (a handler still running at the deadline gets its signal aborted and the caller a 504).
 * `factsOf` adds the platform's facts (request id, deadline) from each Node request.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { createNodeServer, serveHttp } from '@sidecarless/core/node-server';
 *
 * const mesh = createMesh({ service: 'hello' });
 * const serve = serveHttp(mesh, (_request, ctx) => new Response(ctx.invocationId), (incoming) => ({
 *   platform: 'my-platform',
 *   invocationId: incoming.headers['x-request-id'] as string | undefined,
 * }));
 * await createNodeServer(mesh, serve).listen();
 * ```
 */
export function serveHttp(mesh: Mesh, handler: HttpHandler<NodeRaw>, factsOf: FactsOf): Serve {
  const run = prepareHttp(mesh, handler, { enforceDeadline: true });
  return function serveHttpRequest(request, raw) {
    // The socket's facts come last: no adapter can claim a peer the connection did not show.
    return run(request, { ...factsOf(raw.request), ...connectionFacts(raw.request), raw });
  };
}

/** Which probe `target` asks for, without splitting every request's target to find out. */
function probePath(target: string, ...paths: readonly (string | undefined)[]): string | undefined {
  for (const path of paths) {
    if (
      path !== undefined &&
      target.startsWith(path) &&
      (target.length === path.length || target[path.length] === '?')
    ) {
      return path;
    }
  }
  return undefined;
}

// Refusals made before the pipeline runs still carry an id, so a caller can quote it in a report.
function writeProblem(res: ServerResponse, error: unknown, method: string, invocationId: string): void {
  const { status, headers, body } = describeError(error, invocationId);
  res.writeHead(status, headers);
  res.end(method === 'HEAD' ? undefined : JSON.stringify(body));
}

/**
 * Creates the shared server. Adapters call it with their platform defaults; users reach it
 * through `openfaas(...)`, `knative(...)` and friends.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { createNodeServer, serveHttp } from '@sidecarless/core/node-server';
 *
 * const mesh = createMesh({ service: 'hello' });
 * const server = createNodeServer(
 *   mesh,
 *   serveHttp(mesh, () => new Response('hi'), () => ({ platform: 'my-platform' })),
 *   { port: 0, shutdownSignals: false },
 * );
 * const { url } = await server.listen();
 * console.log(await (await fetch(url)).text()); // "hi"
 * await server.close();
 * ```
 */
export function createNodeServer(
  mesh: Mesh,
  serve: Serve,
  options: NodeServerOptions = {},
  defaults: ServerDefaults = {
    port: 8080,
    probes: { readiness: '/health/readiness', liveness: '/health/liveness' },
  },
): NodeServer {
  const config = normalizeServerOptions(options, defaults);
  let state: ServerState = 'idle';
  const inFlight = new InFlight();
  let closing: Promise<void> | undefined;
  let grace: GracePeriod | undefined;
  let stopListening: (() => void) | undefined;
  /** Set once the drain's linger is over: from then on a connection is closed as soon as it is idle. */
  let closeWhenIdle = false;

  const onRequest = (incoming: IncomingMessage, res: ServerResponse): void => {
    const method = incoming.method ?? 'GET';
    if ((method === 'GET' || method === 'HEAD') && (config.readinessPath || config.livenessPath)) {
      const path = probePath(incoming.url ?? '/', config.readinessPath, config.livenessPath);
      if (path !== undefined) {
        const up = path === config.readinessPath ? state === 'ready' : state !== 'failed';
        res.writeHead(up ? 200 : 503, {
          'content-type': 'text/plain; charset=utf-8',
          'cache-control': 'no-store',
        });
        res.end(method === 'HEAD' ? undefined : up ? 'ok' : state);
        return;
      }
    }
    inFlight.start();
    // One listener shared by every response ('close' fires once per response), not a closure each.
    res.on('close', onResponseClose);
    handle(incoming, res, method).catch((error: unknown) => {
      // Last resort: even writing the error failed. Cut the socket rather than leave it hanging.
      mesh.log.error({ err: error }, 'response could not be written');
      res.destroy();
    });
  };

  const onResponseClose = (): void => {
    inFlight.end();
    // A connection whose response went out keep-alive before the drain began is idle now.
    if (closeWhenIdle) setImmediate(() => server.closeIdleConnections());
  };

  const handle = async (incoming: IncomingMessage, res: ServerResponse, method: string): Promise<void> => {
    try {
      if (declaredTooLarge(incoming, config.bodyLimit)) {
        // Refused before the handler runs and before a byte of the body is read.
        writeProblem(res, bodyTooLarge(config.bodyLimit), method, nodeBuiltin('node:crypto').randomUUID());
        return;
      }
      const request = toRequest(incoming, config.bodyLimit);
      const response = await serve(request, { request: incoming, response: res });
      if (res.headersSent || res.destroyed) return;
      // A handler's own `connection: close` is honoured by Node when it writes the head; asking the
      // response for it here would build a LazyResponse's Headers for nothing.
      // An upload still arriving (a 504 before the body was read): this response is the only one
      // on the connection — Node's own 408 would follow it on a kept-alive one.
      const unread = !incoming.complete;
      const sending = sendResponse(res, response, method, unread || state === 'draining');
      if (sending !== undefined) await sending;
      if (unread) res.once('finish', () => incoming.socket.destroySoon());
    } catch (error) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      mesh.log.warn({ err: error }, 'request could not be served');
      writeProblem(res, error, method, nodeBuiltin('node:crypto').randomUUID());
    }
  };

  const timeouts = {
    headersTimeout: config.headersTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // Node enforces the two timeouts above on this interval; its default (30 s) would let a slow
    // client hold a socket up to 30 s past them.
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, config.headersTimeoutMs)),
  };
  const server: Server = config.tls
    ? (nodeBuiltin('node:https').createServer({ ...config.tls, ...timeouts }, onRequest) as unknown as Server)
    : nodeBuiltin('node:http').createServer(timeouts, onRequest);

  const drain = async (): Promise<void> => {
    // New connections are refused from here on — net.Server#close, not http's, which would also
    // close every idle keep-alive connection at once: a request a client wrote on one just then
    // would be reset. Open connections close after their next response (`connection: close`);
    // idle ones after the linger.
    const stopped = new Promise<void>((resolve) =>
      nodeBuiltin('node:net').Server.prototype.close.call(server, () => resolve()),
    );
    const linger = setTimeout(
      () => {
        closeWhenIdle = true;
        server.closeIdleConnections();
      },
      Math.min(config.drainLingerMs, config.gracePeriodMs),
    );
    grace = new GracePeriod(config.gracePeriodMs);
    const outcome = await grace.race(stopped);
    clearTimeout(linger);
    if (outcome === 'expired') {
      await cutRemaining(mesh, inFlight);
      server.closeAllConnections();
      await stopped;
    }
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      state = 'draining';
      try {
        if (server.listening) await drain();
      } finally {
        await mesh.flush();
        state = 'closed';
        stopListening?.();
      }
    })();
    return closing;
  };

  return {
    server,
    get state() {
      return state;
    },
    get inFlight() {
      return inFlight.count;
    },
    async listen(port = config.port) {
      if (state !== 'idle') throw new Error(`listen() called on a server that is ${state}`);
      state = 'starting';
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      stopListening = onShutdownSignals(
        mesh,
        config.shutdownSignals,
        close,
        () => grace?.expire(),
        () => ({ in_flight: inFlight.count, grace_ms: config.gracePeriodMs }),
        config.exitOnShutdown,
      );
      mesh.ready().then(
        () => {
          if (state === 'starting') state = 'ready';
        },
        (error: unknown) => {
          state = 'failed';
          mesh.log.error({ err: error }, 'mesh init failed: readiness and liveness now answer 503');
        },
      );
      const address = server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return {
        host: address.address,
        port: address.port,
        url: `${config.tls ? 'https' : 'http'}://${host}:${address.port}`,
      };
    },
    close,
  };
}
