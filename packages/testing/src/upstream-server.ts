/**
 * A real HTTP or HTTPS server on 127.0.0.1 that misbehaves on demand, for testing the outbound
 * client against real sockets: 5xx answers, connection resets, slow headers, slow bodies, and
 * (with TLS) whatever certificate the test minted — rogue CA, expired, wrong SAN, client
 * certificates required. It records every request it receives.
 */
import { once } from 'node:events';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** What the server does with one request. */
export interface Behaviour {
  /** Status to answer with. Default 200. */
  status?: number;
  /** Response headers. */
  headers?: Record<string, string>;
  /** Response body. Default: `"<status> from <server name>"`. */
  body?: string;
  /** Wait this long before sending the headers. */
  delayHeadersMs?: number;
  /** Send the headers, then wait this long before the body. */
  delayBodyMs?: number;
  /** Destroy the connection without answering (a reset). */
  reset?: boolean;
}

/** What the server saw of one request. */
export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  /** The subject of the client certificate, for TLS servers that request one. */
  readonly clientCertificateSubject: string | undefined;
  /** The remote port: one per connection, so tests can count connections. */
  readonly remotePort: number | undefined;
}

/** Options of {@link createUpstreamServer}. */
export interface UpstreamServerOptions {
  /** A name that appears in default bodies, to tell servers apart. Default `"upstream"`. */
  name?: string;
  /** Serve HTTPS with this certificate and key. */
  tls?: {
    cert: string;
    key: string;
    /** CA to verify client certificates with; set with `requestCert` for mutual TLS. */
    ca?: string;
    /** Require a client certificate signed by `ca`. */
    requestCert?: boolean;
  };
}

/** A running misbehaving server. */
export interface UpstreamServer {
  /** `http://127.0.0.1:<port>` or `https://…`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Queues behaviours for the next requests, in order. */
  respond(...behaviours: Behaviour[]): void;
  /** The behaviour once the queue is empty. Default `{ status: 200 }`. */
  fallback: Behaviour;
  /** Replaces the TLS certificate for new connections. */
  setCertificate(tls: { cert: string; key: string }): void;
  /** Number of TCP connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * Starts a misbehaving server on 127.0.0.1 with a random port.
 *
 * @example
 * ```ts
 * import { createUpstreamServer } from '@sidecarless/testing';
 *
 * const server = await createUpstreamServer();
 * server.respond({ status: 503 }, { reset: true }, { status: 200, body: 'ok' });
 * // …three requests: a 503, a reset, then "ok"
 * await server.close();
 * ```
 */
export async function createUpstreamServer(options: UpstreamServerOptions = {}): Promise<UpstreamServer> {
  const name = options.name ?? 'upstream';
  const queue: Behaviour[] = [];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const socket = request.socket as Socket & Partial<TLSSocket>;
      const peer = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
      requests.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        clientCertificateSubject: peer && Object.keys(peer).length > 0 ? String(peer.subject?.CN) : undefined,
        remotePort: socket.remotePort,
      });
      const behaviour = queue.shift() ?? server.fallback;
      void answer(behaviour, request, response);
    });
  };

  const answer = async (behaviour: Behaviour, request: IncomingMessage, response: ServerResponse) => {
    if (behaviour.delayHeadersMs) await sleep(behaviour.delayHeadersMs);
    if (behaviour.reset) {
      request.socket.resetAndDestroy();
      return;
    }
    if (response.destroyed) return;
    const status = behaviour.status ?? 200;
    const body = behaviour.body ?? `${status} from ${name}`;
    response.writeHead(status, { 'content-type': 'text/plain', ...behaviour.headers });
    if (behaviour.delayBodyMs) {
      response.flushHeaders();
      await sleep(behaviour.delayBodyMs);
      if (response.destroyed) return;
    }
    response.end(body);
  };

  const tls = options.tls;
  const httpServer: Server = tls
    ? createHttpsServer(
        {
          cert: tls.cert,
          key: tls.key,
          ...(tls.ca === undefined ? {} : { ca: tls.ca }),
          requestCert: tls.requestCert ?? false,
          rejectUnauthorized: tls.requestCert ?? false,
        },
        handle,
      )
    : createHttpServer(handle);
  // Keep-alive longer than the client's, so the client closes idle connections first.
  httpServer.keepAliveTimeout = 120_000;
  httpServer.on(tls ? 'secureConnection' : 'connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  httpServer.on('tlsClientError', () => {});
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const port = (httpServer.address() as AddressInfo).port;

  const server: UpstreamServer = {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    port,
    requests,
    fallback: { status: 200 },
    respond: (...behaviours) => {
      queue.push(...behaviours);
    },
    setCertificate: (material) => {
      (httpServer as unknown as { setSecureContext(options: object): void }).setSecureContext({
        cert: material.cert,
        key: material.key,
        ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
      });
    },
    get connections() {
      return connections;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      httpServer.close();
      await once(httpServer, 'close');
    },
  };
  return server;
}

/** A port on 127.0.0.1 where nothing listens (connections are refused). */
export async function refusedPort(): Promise<number> {
  const probe = createNetServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
