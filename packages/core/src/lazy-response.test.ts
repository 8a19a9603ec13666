import { describe, expect, it } from 'vitest';
import { LazyResponse, takePlainResponse } from './lazy-response.js';

type Make = (kind: typeof Response | typeof LazyResponse) => Response;

// Each case is built twice, once with the real Response and once lazily; both must read the same.
const cases: Record<string, Make> = {
  'a string': (R) => new R('hello') as Response,
  'a string after a byte order mark': (R) => new R('\uFEFF{"a":1}') as Response,
  'bytes after a byte order mark': (R) => new R(new Uint8Array([0xef, 0xbb, 0xbf, 0x68, 0x69])) as Response,
  'no body': (R) => new R() as Response,
  'null body, 204': (R) => new R(null, { status: 204 }) as Response,
  'bytes with headers': (R) =>
    new R(new Uint8Array([1, 2, 3]), {
      status: 201,
      statusText: 'Made',
      headers: { 'Content-Type': 'application/octet-stream', 'X-Twice': 'a' },
    }) as Response,
  'an ArrayBuffer': (R) => new R(new Uint8Array([104, 105]).buffer) as Response,
  'a DataView': (R) => new R(new DataView(new Uint8Array([7, 8, 9]).buffer, 1, 2)) as Response,
  URLSearchParams: (R) => new R(new URLSearchParams({ a: '1', b: 'two words' })) as Response,
  'header pairs with cookies': (R) =>
    new R('x', {
      headers: [
        ['set-cookie', 'a=1; Path=/'],
        ['Vary', 'accept'],
        ['vary', 'origin'],
        ['set-cookie', 'b=2'],
      ],
    }) as Response,
  'a Headers object': (R) => new R('x', { headers: new Headers({ 'x-kept': '  padded  ' }) }) as Response,
  json: (R) => R.json({ sku: 'A-1', qty: 2 }, { status: 202 }),
  'json with its own content type': (R) =>
    R.json([1], { headers: { 'Content-Type': 'application/vnd.api+json' } }),
  'json with other headers': (R) => R.json(null, { headers: [['x-a', 'b']] }),
  'a stream': (R) =>
    new R(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('streamed'));
          controller.close();
        },
      }),
    ) as Response,
  'a Blob': (R) => new R(new Blob(['blob'], { type: 'text/x-blob' })) as Response,
};

async function snapshot(response: Response) {
  return {
    status: response.status,
    ok: response.ok,
    statusText: response.statusText,
    type: response.type,
    url: response.url,
    redirected: response.redirected,
    headers: [...response.headers],
    cookies: response.headers.getSetCookie(),
    hasBody: response.body !== null,
    bytes: [...new Uint8Array(await response.arrayBuffer())],
    usedAfter: response.bodyUsed,
  };
}

describe('LazyResponse', () => {
  for (const [name, make] of Object.entries(cases)) {
    it(`reads the same as a real Response: ${name}`, async () => {
      const lazy = make(LazyResponse);
      expect(lazy).toBeInstanceOf(Response);
      expect(await snapshot(lazy)).toEqual(await snapshot(make(Response)));
    });

    it(`reads the same through text(), json() and a clone: ${name}`, async () => {
      const lazy = make(LazyResponse);
      const real = make(Response);
      const lazyCopy = lazy.clone();
      const realCopy = real.clone();
      expect(await lazy.text()).toBe(await real.text());
      expect(lazy.bodyUsed).toBe(real.bodyUsed);
      expect(await lazyCopy.text()).toBe(await realCopy.text());
    });
  }

  it('refuses what Response refuses, with the same kind of error', () => {
    expect(() => new LazyResponse('x', { status: 99 })).toThrow(RangeError);
    expect(() => new LazyResponse('x', { status: 600 })).toThrow(RangeError);
    expect(() => new LazyResponse('x', { status: 204 })).toThrow(TypeError);
    expect(() => new LazyResponse('x', { headers: { 'bad name': 'v' } })).toThrow(TypeError);
    expect(() => new LazyResponse('x', { headers: { ok: 'line\r\nbreak' } })).toThrow(TypeError);
    expect(() => new LazyResponse('x', { statusText: 'new\nline' })).toThrow(TypeError);
    expect(() => LazyResponse.json(undefined)).toThrow(TypeError);
    expect(() => LazyResponse.json(() => 1)).toThrow(TypeError);
  });

  it('reads its body once, as Response does', async () => {
    const lazy = LazyResponse.json({ a: 1 });
    expect(await lazy.json()).toEqual({ a: 1 });
    await expect(lazy.text()).rejects.toThrow(TypeError);
    expect(() => lazy.clone()).toThrow(TypeError);
  });

  it('serves as the body and init of a real Response', async () => {
    const lazy = new LazyResponse('wrapped', { status: 203, headers: { 'x-from': 'lazy' } });
    const rewrapped = new Response(lazy.body, lazy);
    expect(rewrapped.status).toBe(203);
    expect(rewrapped.headers.get('x-from')).toBe('lazy');
    expect(await rewrapped.text()).toBe('wrapped');
  });

  it('keeps header changes made by a middleware', async () => {
    const lazy = LazyResponse.json({ ok: true });
    lazy.headers.set('x-powered-by', 'sidecarless');
    lazy.headers.append('set-cookie', 'session=1');
    const plain = takePlainResponse(lazy);
    expect(plain?.headers).toEqual({ 'content-type': 'application/json', 'x-powered-by': 'sidecarless' });
    expect(plain?.cookies).toEqual(['session=1']);
    expect(plain?.body).toBe('{"ok":true}');
  });
});

describe('takePlainResponse', () => {
  it('hands over the fields and the body once, leaving the response used', () => {
    const lazy = new LazyResponse('hi', { headers: [['set-cookie', 'a=1']] });
    expect(takePlainResponse(lazy)).toEqual({
      status: 200,
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      cookies: ['a=1'],
      body: 'hi',
    });
    expect(lazy.bodyUsed).toBe(true);
    expect(takePlainResponse(lazy)).toBeUndefined();
  });

  it('leaves real responses, streamed bodies and touched bodies to the standard path', async () => {
    expect(takePlainResponse(new Response('real'))).toBeUndefined();
    const streamed = new LazyResponse('x');
    void streamed.body;
    expect(takePlainResponse(streamed)).toBeUndefined();
    const read = new LazyResponse('x');
    await read.text();
    expect(takePlainResponse(read)).toBeUndefined();
  });

  it('copies bytes it was given, so the caller may reuse its buffer', () => {
    const buffer = new Uint8Array([1, 2, 3]);
    const lazy = new LazyResponse(buffer);
    buffer[0] = 9;
    const body = takePlainResponse(lazy)?.body;
    expect(body).toBeInstanceOf(Uint8Array);
    expect([...(body as Uint8Array)]).toEqual([1, 2, 3]);
  });
});
