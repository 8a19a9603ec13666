import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLazyRequest, isLazyRequest } from './lazy-request.js';

function make(body: string | Uint8Array | null = '{"qty":2}', method = 'POST') {
  let built = 0;
  const request = createLazyRequest({
    url: 'https://example.com/orders?id=7',
    method,
    headers: () => {
      built++;
      return new Headers({ 'content-type': 'application/json', 'x-one': '1' });
    },
    body,
  });
  return { request, headersBuilt: () => built };
}

describe('createLazyRequest', () => {
  // Node 22's Request accepts the lazy object as input (fetch(request), new Request(request));
  // Node 24's checks a private brand, so there createLazyRequest builds real requests.
  const runtimeAcceptsLazy = Number(process.versions.node.split('.')[0]) < 24;

  it('is lazy exactly where the runtime’s Request accepts a lazy input', () => {
    expect(isLazyRequest(make().request)).toBe(runtimeAcceptsLazy);
  });

  it('is a Request that answers url, method and headers', () => {
    const { request, headersBuilt } = make();
    expect(request).toBeInstanceOf(Request);
    expect(Object.prototype.toString.call(request)).toBe('[object Request]');
    expect(request.url).toBe('https://example.com/orders?id=7');
    expect(request.method).toBe('POST');
    // Lazy: nothing built until the headers are read; real: built once, up front.
    expect(headersBuilt()).toBe(runtimeAcceptsLazy ? 0 : 1);
    expect(request.headers.get('x-one')).toBe('1');
    expect(request.headers).toBe(request.headers);
    expect(headersBuilt()).toBe(1);
  });

  it("carries the sender's header fields from a raw list, repeats apart, and no guessed content type", async () => {
    const request = createLazyRequest({
      url: 'https://example.com/notes',
      method: 'POST',
      headers: () => ['X-Tag', 'a', 'x-tag', 'b', 'Accept', 'text/plain'],
      body: 'plain words',
    });
    // `new Request(url, { body: string })` would add text/plain;charset=UTF-8: the sender sent none.
    expect(request.headers.get('content-type')).toBeNull();
    expect(request.headers.get('x-tag')).toBe('a, b');
    expect([...request.headers.keys()]).toEqual(['accept', 'x-tag']);
    expect(await request.text()).toBe('plain words');
  });

  it('reads the same header fields after it turns into a real Request', () => {
    const request = createLazyRequest({
      url: 'https://example.com/notes',
      method: 'POST',
      headers: () => ['Accept', 'text/plain'],
      body: 'plain words',
    });
    expect(request.headers.get('content-type')).toBeNull();
    // The body stream exists on the real Request only: reading it builds one.
    expect(request.body).not.toBeNull();
    expect(request.headers.get('content-type')).toBeNull();
    expect([...request.headers]).toEqual([['accept', 'text/plain']]);
  });

  it('keeps a content type the sender gave with a string body, once', () => {
    const request = createLazyRequest({
      url: 'https://example.com/notes',
      method: 'POST',
      headers: () => ['content-type', 'application/json'],
      body: '{}',
    });
    expect(request.headers.get('content-type')).toBe('application/json');
  });

  it('refuses a header value Fetch refuses, as a 400, on every runtime', () => {
    const build = () =>
      createLazyRequest({
        url: 'https://example.com/',
        method: 'POST',
        headers: () => ['x-bad', 'a\u0000b'],
        body: 'x',
      }).headers.get('x-bad');
    expect(build).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('can be passed to new Request() and fetch() as it is, on every runtime', async () => {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => res.end(`${req.method} ${req.url} ${body}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const lazy = () =>
        createLazyRequest({
          url: `http://127.0.0.1:${port}/direct`,
          method: 'POST',
          headers: () => new Headers({ 'content-type': 'text/plain' }),
          body: 'as-is',
        });
      expect(await new Request(lazy()).text()).toBe('as-is');
      expect(await (await fetch(lazy())).text()).toBe('POST /direct as-is');
    } finally {
      server.close();
    }
  });

  it('reads the body once as text, json or bytes, like a Request', async () => {
    const { request } = make();
    expect(request.bodyUsed).toBe(false);
    expect(await request.json()).toEqual({ qty: 2 });
    expect(request.bodyUsed).toBe(true);
    await expect(request.text()).rejects.toThrow(TypeError);
    const binary = make(new Uint8Array([1, 2, 3])).request;
    const copy = new Uint8Array(await binary.arrayBuffer());
    expect([...copy]).toEqual([1, 2, 3]);
  });

  it('drops a leading byte order mark as Request#text() does', async () => {
    const text = '\uFEFF{"a":1}';
    expect(await make(text).request.text()).toBe(
      await new Request('https://x/', { method: 'POST', body: text }).text(),
    );
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]);
    expect(await make(bytes).request.json()).toEqual({});
  });

  it('gives GET and HEAD requests an empty body', async () => {
    expect(await make('ignored', 'GET').request.text()).toBe('');
    expect(make('ignored', 'GET').request.body).toBeNull();
  });

  it('reads a bodiless request as empty again and again without marking it used, as Request does', async () => {
    const { request } = make('ignored', 'GET');
    const real = new Request('https://x/');
    expect(await request.text()).toBe(await real.text());
    expect(await request.text()).toBe(await real.text());
    expect(request.bodyUsed).toBe(real.bodyUsed);
    expect(request.bodyUsed).toBe(false);
    expect(request.clone().url).toBe(request.url);
  });

  it('builds the real request for the body stream, the signal and clone()', async () => {
    const { request } = make();
    expect(request.signal).toBeInstanceOf(AbortSignal);
    expect(request.body).toBeInstanceOf(ReadableStream);
    const clone = request.clone();
    expect(isLazyRequest(clone)).toBe(false);
    expect(await clone.text()).toBe('{"qty":2}');
    expect(await request.text()).toBe('{"qty":2}');
    expect(request.bodyUsed).toBe(true);
  });

  it('reports a body read through the fast path as used on the real request too', async () => {
    const { request } = make();
    await request.text();
    expect(() => request.clone()).toThrow(TypeError);
    expect(request.bodyUsed).toBe(true);
  });

  it('keeps header changes made before the real request is built', async () => {
    const { request } = make();
    request.headers.set('x-two', '2');
    const formData = make('a=1&b=2').request;
    formData.headers.set('content-type', 'application/x-www-form-urlencoded');
    expect((await formData.formData()).get('b')).toBe('2');
    expect(request.clone().headers.get('x-two')).toBe('2');
  });

  it('can be forwarded with fetch() as a clone', async () => {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => res.end(`${req.method} ${req.url} ${req.headers['x-one']} ${body}`));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const request = createLazyRequest({
        url: `http://127.0.0.1:${port}/forward?x=1`,
        method: 'PUT',
        headers: () => new Headers({ 'x-one': 'yes' }),
        body: 'payload',
      });
      const response = await fetch(request.clone());
      expect(await response.text()).toBe('PUT /forward?x=1 yes payload');
    } finally {
      server.close();
    }
  });
});
