/**
 * The shared Node server, end to end on real sockets: translation both ways, body limits,
 * timeouts against slow and malformed clients, probes, drain, deadlines and TLS.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createMesh, type HttpHandler, type Mesh } from '@sidecarless/core';
import { onFlush } from '@sidecarless/core/adapter';
import { createNodeServer, type NodeRaw, type NodeServer, serveHttp } from '@sidecarless/core/node-server';
import { afterEach, describe, expect, it } from 'vitest';

const servers: NodeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function quietMesh(): Mesh {
  return createMesh({ service: 'node-server-test', logging: { level: 'silent' } });
}

async function start(
  handler: HttpHandler<NodeRaw>,
  options: Parameters<typeof createNodeServer>[2] = {},
  mesh: Mesh = quietMesh(),
): Promise<{ url: string; server: NodeServer; mesh: Mesh; port: number }> {
  const server = createNodeServer(
    mesh,
    serveHttp(mesh, handler, () => ({ platform: 'test' })),
    {
      port: 0,
      shutdownSignals: false,
      ...options,
    },
  );
  servers.push(server);
  const { url, port } = await server.listen();
  return { url, server, mesh, port };
}

/** Sends raw bytes and collects everything the server answers until it closes the socket. */
function rawExchange(
  port: number,
  chunks: readonly string[],
  waitMs = 0,
): Promise<{ text: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (data) => {
      text += data.toString();
    });
    socket.once('error', reject);
    socket.once('close', () => resolve({ text, closedAfterMs: Date.now() - started }));
    socket.once('connect', async () => {
      for (const chunk of chunks) {
        socket.write(chunk);
        if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
      }
    });
  });
}

describe('createNodeServer', () => {
  it('binds 127.0.0.1 by default', async () => {
    const { server } = await start(() => new Response('ok'));
    expect((server.server.address() as { address: string }).address).toBe('127.0.0.1');
  });

  it('hands the handler a standard Request with method, path, query, headers and a streamed body', async () => {
    let seen: Record<string, unknown> = {};
    const { url } = await start(async (request, ctx) => {
      seen = {
        method: request.method,
        url: new URL(request.url).pathname + new URL(request.url).search,
        header: request.headers.get('x-test'),
        body: await request.text(),
        raw: ctx.raw.request.method,
        platform: ctx.platform,
      };
      return new Response('done');
    });
    const response = await fetch(`${url}/a/b?x=1&x=2`, {
      method: 'PUT',
      headers: { 'x-test': 'yes' },
      body: 'payload',
    });
    expect(await response.text()).toBe('done');
    expect(seen).toEqual({
      method: 'PUT',
      url: '/a/b?x=1&x=2',
      header: 'yes',
      body: 'payload',
      raw: 'PUT',
      platform: 'test',
    });
  });

  it('answers HEAD without a body and keeps the headers', async () => {
    const { port } = await start(
      () => new Response('a body that HEAD must not send', { headers: { 'x-kind': 'head' } }),
    );
    const { text } = await rawExchange(port, ['HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n']);
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text.toLowerCase()).toContain('x-kind: head');
    expect(text.endsWith('\r\n\r\n')).toBe(true);
  });

  it('sends each Set-Cookie as its own header and binary bodies byte for byte', async () => {
    const bytes = Uint8Array.from({ length: 70_000 }, (_, i) => i % 256);
    const { url } = await start(() => {
      const headers = new Headers({ 'content-type': 'application/octet-stream' });
      headers.append('set-cookie', 'a=1; HttpOnly');
      headers.append('set-cookie', 'b=2, with comma; Secure');
      return new Response(bytes, { headers });
    });
    const response = await fetch(url);
    expect(response.headers.getSetCookie()).toEqual(['a=1; HttpOnly', 'b=2, with comma; Secure']);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(bytes);
  });

  it('refuses a declared body over the limit with 413 before the handler runs', async () => {
    let calls = 0;
    const { url } = await start(
      () => {
        calls++;
        return new Response('ok');
      },
      { bodyLimit: 1024 },
    );
    const response = await fetch(url, { method: 'POST', body: 'x'.repeat(2048) });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ code: 'SCL_ERR_BODY_TOO_LARGE' });
    expect(calls).toBe(0);
  });

  it('refuses a streamed body that grows past the limit with 413', async () => {
    const { url } = await start(async (request) => new Response(`read ${(await request.text()).length}`), {
      bodyLimit: 1024,
    });
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(512).fill(120));
        controller.close();
      },
    });
    const response = await fetch(url, { method: 'POST', body: chunks, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(413);
    expect(response.headers.get('connection')).toBe('close');
  });

  it('answers a malformed request with 400 and closes the connection', async () => {
    const { port } = await start(() => new Response('never'));
    const { text } = await rawExchange(port, ['THIS IS NOT HTTP\r\n\r\n']);
    expect(text).toMatch(/^HTTP\/1\.1 400/);
  });

  it('drops a client that sends its headers too slowly', async () => {
    const { port } = await start(() => new Response('never'), { headersTimeout: 300, requestTimeout: 600 });
    // A slowloris client: one header line every 100 ms, never finishing.
    const lines = ['GET / HTTP/1.1\r\n', ...Array.from({ length: 30 }, (_, i) => `X-Slow-${i}: 1\r\n`)];
    const { text, closedAfterMs } = await rawExchange(port, lines, 100);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(closedAfterMs).toBeLessThan(2_000);
  });

  it('drops a client that trickles its body past the request timeout', async () => {
    let bodyError = '';
    const { port } = await start(
      async (request) => {
        await request.text().catch((error: Error) => {
          bodyError = error.message;
        });
        return new Response('never');
      },
      { headersTimeout: 300, requestTimeout: 600 },
    );
    const head = 'POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n';
    const { text, closedAfterMs } = await rawExchange(
      port,
      [head, ...Array.from({ length: 30 }, () => 'x')],
      100,
    );
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(closedAfterMs).toBeLessThan(2_500);
    // The server learns of the cut socket on its own turn of the event loop; give it a moment.
    for (let waited = 0; bodyError === '' && waited < 2_000; waited += 20) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(bodyError).not.toBe('');
  });

  it('answers 504 and aborts ctx.signal when the handler outlives the deadline', async () => {
    let aborted = false;
    const mesh = createMesh({
      service: 't',
      logging: { level: 'silent' },
      invocation: { timeout: '200ms', safetyMargin: '50ms' },
    });
    const { url } = await start(
      async (_request, ctx) => {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        aborted = true;
        // A handler that keeps going after its signal aborted still loses to the deadline.
        await new Promise((resolve) => setTimeout(resolve, 200));
        return new Response('too late');
      },
      {},
      mesh,
    );
    const response = await fetch(url);
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ code: 'SCL_ERR_DEADLINE_EXCEEDED' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(aborted).toBe(true);
  });

  it('reports not ready until the mesh is ready, then ready, then not ready while draining', async () => {
    const mesh = quietMesh();
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const realReady = mesh.ready.bind(mesh);
    // Stand in for slow init work (a JWKS fetch, say) by holding the mesh's ready() back.
    Object.assign(mesh, { ready: () => gate.then(realReady) });
    const { url, server } = await start(() => new Response('ok'), {}, mesh);
    expect((await fetch(`${url}/health/readiness`)).status).toBe(503);
    expect((await fetch(`${url}/health/liveness`)).status).toBe(200);
    open();
    await gate;
    await new Promise((resolve) => setTimeout(resolve, 10));
    const ready = await fetch(`${url}/health/readiness`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ok');
    const closing = server.close();
    expect(server.state).toBe('draining');
    await closing;
    expect(server.state).toBe('closed');
  });

  it('lets every path reach the handler when probes are off', async () => {
    const { url } = await start((request) => new Response(new URL(request.url).pathname), { probes: false });
    expect(await (await fetch(`${url}/health/readiness`)).text()).toBe('/health/readiness');
  });

  it('drains: in-flight requests finish, new connections are refused, then the mesh flushes', async () => {
    const mesh = quietMesh();
    const events: string[] = [];
    onFlush(mesh, () => {
      events.push('flushed');
    });
    let started = 0;
    const { url, server, port } = await start(
      async () => {
        started++;
        await new Promise((resolve) => setTimeout(resolve, 300));
        return new Response('finished');
      },
      { gracePeriod: '5s' },
      mesh,
    );
    const inFlight = Array.from({ length: 5 }, () =>
      fetch(url).then(async (r) => `${r.status} ${await r.text()}`),
    );
    while (started < 5) await new Promise((resolve) => setTimeout(resolve, 5));
    const closed = server.close().then(() => events.push('closed'));
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect(await Promise.all(inFlight)).toEqual(Array(5).fill('200 finished'));
    await closed;
    expect(events).toEqual(['flushed', 'closed']);
  });

  it('answers requests still running when the grace period ends with a 503 the caller may retry', async () => {
    let aborted = false;
    const { url, server } = await start(
      async (_request, ctx) => {
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, 5_000);
          ctx.signal.addEventListener('abort', () => {
            aborted = true;
            clearTimeout(timer);
            resolve(undefined);
          });
        });
        return new Response('never');
      },
      { gracePeriod: '200ms' },
    );
    const pending = fetch(url).then(async (response) => ({
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: await response.json(),
    }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const began = Date.now();
    await server.close();
    expect(Date.now() - began).toBeLessThan(2_000);
    expect(await pending).toMatchObject({
      status: 503,
      retryAfter: '1',
      body: { code: 'SCL_ERR_SHUTTING_DOWN' },
    });
    expect(aborted).toBe(true);
  });

  it('refuses options it does not know, naming the field', () => {
    expect(() => createNodeServer(quietMesh(), async () => new Response(), { bodyLimt: 5 } as never)).toThrow(
      /server\.bodyLimt: unknown option/,
    );
    expect(() => createNodeServer(quietMesh(), async () => new Response(), { gracePeriod: '5 sec' })).toThrow(
      /server\.gracePeriod: "5 sec" is not a duration/,
    );
  });

  it('terminates TLS and exposes the client certificate when requestCert is set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'scl-tls-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    const mint = (name: string) =>
      openssl(
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name}`,
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.crt`,
      );
    mint('server');
    mint('client');
    const read = (file: string) => readFileSync(join(dir, file));
    const { port } = await start(
      (_request, ctx) => {
        const socket = ctx.raw.request.socket as TLSSocket;
        return Response.json({
          scheme: new URL(_request.url).protocol,
          peer: socket.getPeerCertificate().subject?.CN,
        });
      },
      {
        tls: {
          key: read('server.key'),
          cert: read('server.crt'),
          ca: read('client.crt'),
          requestCert: true,
          rejectUnauthorized: true,
        },
      },
    );
    const body = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port,
          path: '/',
          ca: read('server.crt'),
          key: read('client.key'),
          cert: read('client.crt'),
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => {
            text += chunk.toString();
          });
          res.on('end', () => resolve(text));
        },
      );
      req.once('error', reject);
      req.end();
    });
    expect(JSON.parse(body)).toEqual({ scheme: 'https:', peer: 'client' });
  });
});
