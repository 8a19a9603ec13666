/**
 * The shared Node server's fast paths, on real sockets: the lazily built `Request` of a bodiless
 * request, `Response` bodies written straight from what they were built with, and the deadline
 * race. Each must behave exactly as the general path does.
 */
import { connect, type Socket } from 'node:net';
import { createMesh, type HttpHandler, type Mesh } from '@sidecarless/core';
import { createNodeServer, type NodeRaw, type NodeServer, serveHttp } from '@sidecarless/core/node-server';
import { afterEach, describe, expect, it } from 'vitest';

const servers: NodeServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(
  handler: HttpHandler<NodeRaw>,
  mesh: Mesh = createMesh({ service: 'fast-paths', logging: { level: 'silent' } }),
): Promise<{ url: string; port: number }> {
  const server = createNodeServer(
    mesh,
    serveHttp(mesh, handler, () => ({ platform: 'test' })),
    { port: 0, shutdownSignals: false },
  );
  servers.push(server);
  const { url, port } = await server.listen();
  return { url, port };
}

/** Sends one raw request on a fresh socket and returns everything read until the server closes it. */
function rawExchange(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (data) => {
      text += data.toString('latin1');
    });
    socket.once('error', reject);
    socket.once('close', () => resolve(text));
    socket.once('connect', () => socket.write(head));
  });
}

describe('the request a bodiless call gets', () => {
  it('has the URL new Request would give, every repeated header, and works as a real Request', async () => {
    let seen: Record<string, unknown> = {};
    const { port } = await start(async (request) => {
      const copy = new Request(request);
      seen = {
        isRequest: request instanceof Request,
        url: request.url,
        method: request.method,
        accept: request.headers.get('accept'),
        via: request.headers.get('x-via'),
        copyUrl: copy.url,
        copyVia: copy.headers.get('x-via'),
        cloneUrl: request.clone().url,
        text: await request.text(),
      };
      return new Response('ok');
    });
    const target = "/a/./b/../c?q='x'&r=%7e";
    const answer = await rawExchange(
      port,
      `GET ${target} HTTP/1.1\r\nHost: Example.COM:80\r\nAccept: text/plain\r\nX-Via: one\r\nX-Via: two\r\nConnection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    const expected = new Request(`http://Example.COM:80${target}`).url;
    expect(expected).toBe('http://example.com/a/c?q=%27x%27&r=%7e');
    expect(seen).toEqual({
      isRequest: true,
      url: expected,
      method: 'GET',
      accept: 'text/plain',
      via: 'one, two',
      copyUrl: expected,
      copyVia: 'one, two',
      cloneUrl: expected,
      text: '',
    });
  });

  it('answers 400 before the handler runs when the Host cannot make a URL', async () => {
    let calls = 0;
    const { port } = await start(() => {
      calls++;
      return new Response('never');
    });
    const answer = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: bad host\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(answer).toContain('SCL_ERR_BAD_REQUEST');
    expect(calls).toBe(0);
  });

  it('answers 400 to a method Fetch forbids, as the general path does', async () => {
    let calls = 0;
    const { port } = await start(() => {
      calls++;
      return new Response('never');
    });
    const answer = await rawExchange(port, 'TRACE / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(calls).toBe(0);
  });

  it('reads an empty body the same way for DELETE with content-length 0', async () => {
    let seen: unknown;
    const { url } = await start(async (request) => {
      seen = { method: request.method, body: await request.text(), used: request.bodyUsed };
      return new Response(null, { status: 204 });
    });
    const response = await fetch(`${url}/item`, { method: 'DELETE', headers: { 'content-length': '0' } });
    expect(response.status).toBe(204);
    // A bodiless Request reads as empty and is not marked used, on every Node version.
    expect(seen).toEqual({ method: 'DELETE', body: '', used: false });
  });
});

describe('the response a handler returns', () => {
  it('sends a string body with its byte length in one piece, multi-byte characters included', async () => {
    const { port } = await start(() => new Response('héllo ☃', { headers: { 'x-kind': 'text' } }));
    const answer = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    const [head, body] = answer.split('\r\n\r\n') as [string, string];
    expect(head.toLowerCase()).toContain(`content-length: ${Buffer.byteLength('héllo ☃')}`);
    expect(head.toLowerCase()).not.toContain('transfer-encoding');
    expect(head.toLowerCase()).toContain('x-kind: text');
    expect(Buffer.from(body, 'latin1').toString('utf8')).toBe('héllo ☃');
  });

  it('sends JSON and byte bodies exactly, keeping a content-length the handler set', async () => {
    const bytes = Uint8Array.from([0, 1, 2, 254, 255]);
    const { url } = await start((request) => {
      const path = new URL(request.url).pathname;
      if (path === '/json') return Response.json({ ok: true, n: 7 });
      if (path === '/sized') return new Response('abcd', { headers: { 'content-length': '4' } });
      return new Response(bytes);
    });
    const json = await fetch(`${url}/json`);
    expect(json.headers.get('content-length')).toBe(String('{"ok":true,"n":7}'.length));
    expect(await json.json()).toEqual({ ok: true, n: 7 });
    const sized = await fetch(`${url}/sized`);
    expect(sized.headers.get('content-length')).toBe('4');
    expect(await sized.text()).toBe('abcd');
    const binary = await fetch(`${url}/bytes`);
    expect(new Uint8Array(await binary.arrayBuffer())).toEqual(bytes);
  });

  it('sends only what is left of a body the handler already read from, through its stream', async () => {
    const { url } = await start(async () => {
      const response = new Response('abcdef', { headers: { 'x-read': 'yes' } });
      const reader = response.body!.getReader();
      await reader.read(); // the whole string is one chunk: nothing is left
      reader.releaseLock();
      return response;
    });
    const answer = await fetch(url);
    expect(answer.headers.get('x-read')).toBe('yes');
    expect(await answer.text()).toBe('');
  });

  it('streams a live body chunk by chunk instead of waiting for its end', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { url } = await start(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            async start(controller) {
              controller.enqueue(new TextEncoder().encode('first;'));
              await gate;
              controller.enqueue(new TextEncoder().encode('second'));
              controller.close();
            },
          }),
        ),
    );
    const response = await fetch(url);
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    const reader = response.body!.getReader();
    // The first chunk arrives while the handler's stream is still open.
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('first;');
    release();
    let rest = '';
    for (let part = await reader.read(); !part.done; part = await reader.read())
      rest += new TextDecoder().decode(part.value);
    expect(rest).toBe('second');
  });

  it('writes a large body with backpressure: the handler stream is pulled only as the client reads', async () => {
    let pulled = 0;
    const chunk = new Uint8Array(64 * 1024).fill(97);
    const { port } = await start(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              pulled++;
              if (pulled > 400) controller.close();
              else controller.enqueue(chunk);
            },
          }),
        ),
    );
    // A client that sends its request and then does not read: the server must stop pulling.
    const socket = connect(port, '127.0.0.1');
    socket.pause();
    socket.write('GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pulledWhileStalled = pulled;
    expect(pulledWhileStalled).toBeGreaterThan(0);
    expect(pulledWhileStalled).toBeLessThan(400);
    let received = 0;
    socket.on('data', (data: Buffer) => {
      received += data.length;
    });
    socket.resume();
    await new Promise((resolve) => socket.once('close', resolve));
    expect(pulled).toBe(401);
    expect(received).toBeGreaterThan(400 * chunk.length);
  });
});

describe('the deadline race', () => {
  it('answers 504 to overdue handlers and 200 to quick ones running alongside them', async () => {
    const mesh = createMesh({
      service: 'fast-paths',
      logging: { level: 'silent' },
      invocation: { timeout: '150ms' },
    });
    const { url } = await start(async (request) => {
      if (new URL(request.url).pathname === '/slow') await new Promise((resolve) => setTimeout(resolve, 600));
      return new Response('done');
    }, mesh);
    const started = Date.now();
    const statuses = await Promise.all(
      ['/slow', '/quick', '/slow', '/quick', '/quick'].map(async (path) => (await fetch(url + path)).status),
    );
    expect(statuses).toEqual([504, 200, 504, 200, 200]);
    expect(Date.now() - started).toBeLessThan(550);
  });

  it('maps a handler that throws before the deadline to a 500, not a 504', async () => {
    const mesh = createMesh({
      service: 'fast-paths',
      logging: { level: 'silent' },
      invocation: { timeout: '2s' },
    });
    const { url } = await start(async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Error('boom');
    }, mesh);
    const response = await fetch(url);
    expect(response.status).toBe(500);
  });
});
