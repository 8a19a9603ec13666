/**
 * Lambda HTTP events in the shapes peers' adapter tests, event mocks and local emulators send
 * (Hono's and Powertools' Lambda adapter tests, Middy's normalizers, `sam local invoke` and the
 * console's test events): built here by hand in those shapes, not copied. Each case is one class
 * of translation bug those shapes found; every case runs on Node 22 and Node 24 alike.
 */
import { createMesh, type HttpHandler } from '@sidecarless/core';
import { captureLogs, lambdaContext, lambdaEvent, resetColdStart } from '@sidecarless/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { type LambdaHttpRaw, lambda } from '../src/index.js';

interface Result {
  statusCode: number;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  body: string;
  isBase64Encoded: boolean;
}

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

function setup(handler?: HttpHandler<LambdaHttpRaw>) {
  const logs = captureLogs();
  const mesh = createMesh({
    service: 'peer-shapes',
    logging: { level: 'info', destination: logs.destination },
  });
  const seen: Seen[] = [];
  const echo: HttpHandler<LambdaHttpRaw> = async (request) => {
    seen.push({
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body: await request.text(),
    });
    return new Response('ok');
  };
  const fn = lambda(mesh, handler ?? echo);
  const call = async (event: unknown) => (await fn(event, lambdaContext())) as Result;
  return { call, seen, logs };
}

beforeEach(() => resetColdStart());

/** A minimal REST (1.0) event as Hono's and Powertools' tests build them. */
function restEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resource: '/orders',
    path: '/orders',
    httpMethod: 'GET',
    headers: { host: 'api.example.com', 'x-one': 'a' },
    multiValueHeaders: {},
    queryStringParameters: { page: '2' },
    multiValueQueryStringParameters: {},
    requestContext: { requestId: 'r', stage: 'prod', domainName: 'api.example.com', httpMethod: 'GET' },
    body: null,
    isBase64Encoded: false,
    ...overrides,
  };
}

describe('source detection is a pure function of the event', () => {
  it('a payload 2.0 event carrying httpMethod reads as 2.0 after a REST event as before it', async () => {
    const v2 = { ...(lambdaEvent('apigw-http-v2.json') as Record<string, unknown>), httpMethod: 'POST' };
    const fresh = setup();
    const before = await fresh.call(structuredClone(v2));
    const warmed = setup();
    expect((await warmed.call(lambdaEvent('apigw-rest-v1-proxy.json'))).statusCode).toBe(200);
    const after = await warmed.call(structuredClone(v2));
    expect(before.statusCode).toBe(200);
    expect(after.statusCode).toBe(200);
    expect(warmed.seen.at(-1)!.url).toBe(fresh.seen[0]!.url);
  });
});

describe('empty multi-value maps beside filled single-value maps (REST and ALB)', () => {
  it('REST: headers and query survive an empty multiValueHeaders / multiValueQueryStringParameters', async () => {
    const { call, seen } = setup();
    expect((await call(restEvent())).statusCode).toBe(200);
    expect(seen[0]!.headers['x-one']).toBe('a');
    expect(new URL(seen[0]!.url).searchParams.get('page')).toBe('2');
  });

  it('REST: both maps filled as API Gateway fills them give each value once', async () => {
    const { call, seen } = setup();
    await call(
      restEvent({
        headers: { host: 'api.example.com', 'x-one': 'b' },
        multiValueHeaders: { host: ['api.example.com'], 'x-one': ['a', 'b'] },
        queryStringParameters: { tag: 'y' },
        multiValueQueryStringParameters: { tag: ['x', 'y'] },
      }),
    );
    expect(seen[0]!.headers['x-one']).toBe('a, b');
    expect(new URL(seen[0]!.url).searchParams.getAll('tag')).toEqual(['x', 'y']);
  });

  it('REST: a name only in the single-value map is kept when the multi-value map has others', async () => {
    const { call, seen } = setup();
    await call(
      restEvent({
        headers: { host: 'api.example.com', 'x-only-single': 's' },
        multiValueHeaders: { host: ['api.example.com'] },
        queryStringParameters: { solo: '1' },
        multiValueQueryStringParameters: { other: ['2'] },
      }),
    );
    expect(seen[0]!.headers['x-only-single']).toBe('s');
    const params = new URL(seen[0]!.url).searchParams;
    expect([params.get('solo'), params.get('other')]).toEqual(['1', '2']);
  });

  it('ALB: an empty multiValueHeaders beside filled headers keeps the headers', async () => {
    const { call, seen } = setup();
    const event = {
      ...(lambdaEvent('alb.json') as Record<string, unknown>),
      multiValueHeaders: {},
      multiValueQueryStringParameters: {},
    };
    const result = await call(event);
    expect(result.statusCode).toBe(200);
    expect(Object.keys(seen[0]!.headers).length).toBeGreaterThan(1);
    expect(seen[0]!.url.startsWith('https://') || seen[0]!.url.startsWith('http://')).toBe(true);
    expect(new URL(seen[0]!.url).host).not.toBe('localhost');
  });
});

describe('VPC Lattice v2 with plain string values', () => {
  it('takes a string header or query value as one value, never its characters', async () => {
    const { call, seen } = setup();
    const event = lambdaEvent('vpc-lattice-v2.json') as Record<string, unknown>;
    event.headers = { host: 'test.example.com', 'x-multi': 'one', 'content-type': 'application/json' };
    event.queryStringParameters = { expand: 'items' };
    expect((await call(event)).statusCode).toBe(200);
    expect(seen[0]!.headers.host).toBe('test.example.com');
    expect(seen[0]!.headers['x-multi']).toBe('one');
    expect(new URL(seen[0]!.url).host).toBe('test.example.com');
    expect(new URL(seen[0]!.url).searchParams.getAll('expand')).toEqual(['items']);
  });
});

describe('what Fetch refuses is a 400 before the handler, on every runtime', () => {
  for (const method of ['CONNECT', 'TRACE', 'TRACK']) {
    it(`method ${method}`, async () => {
      const { call, seen } = setup();
      const result = await call(restEvent({ httpMethod: method }));
      expect(result.statusCode).toBe(400);
      expect(seen).toHaveLength(0);
    });
  }

  it('a header name Fetch refuses (a"a)', async () => {
    const { call, seen } = setup();
    const result = await call(restEvent({ headers: { host: 'api.example.com', 'a"a': 'x' } }));
    expect(result.statusCode).toBe(400);
    expect(seen).toHaveLength(0);
  });
});

describe('header values outside Latin-1', () => {
  it('reach the handler percent-encoded (UTF-8), as peers pass them', async () => {
    const { call, seen } = setup();
    const result = await call(restEvent({ headers: { host: 'api.example.com', 'x-city': '炎 city' } }));
    expect(result.statusCode).toBe(200);
    expect(seen[0]!.headers['x-city']).toBe(`${encodeURIComponent('炎')} city`);
    expect(decodeURIComponent(seen[0]!.headers['x-city']!)).toBe('炎 city');
  });
});

describe('REST events without requestContext (console test events, sam local samples)', () => {
  it('are read as REST, the missing facts left unset', async () => {
    const { call, seen } = setup();
    const event = restEvent({ httpMethod: 'POST', body: '{"a":1}' });
    delete event.requestContext;
    const result = await call(event);
    expect(result.statusCode).toBe(200);
    expect(seen[0]).toMatchObject({
      method: 'POST',
      url: 'https://api.example.com/orders?page=2',
      body: '{"a":1}',
    });
  });
});

describe('bodies', () => {
  it('a request body carries content-length, in bytes', async () => {
    const { call, seen } = setup();
    await call(restEvent({ httpMethod: 'POST', body: 'héllo' }));
    expect(seen[0]!.headers['content-length']).toBe(String(Buffer.byteLength('héllo')));
    const { call: call64, seen: seen64 } = setup();
    await call64(
      restEvent({
        httpMethod: 'POST',
        body: Buffer.from([1, 2, 3]).toString('base64'),
        isBase64Encoded: true,
      }),
    );
    expect(seen64[0]!.headers['content-length']).toBe('3');
  });

  it('a content-length the event already carries is left alone', async () => {
    const { call, seen } = setup();
    await call(restEvent({ httpMethod: 'POST', body: 'abc', headers: { host: 'h', 'content-length': '3' } }));
    expect(seen[0]!.headers['content-length']).toBe('3');
  });

  it('an empty content-encoding leaves a text body as text', async () => {
    const { call } = setup(
      async () =>
        new Response('plain', { headers: { 'content-type': 'text/plain', 'content-encoding': '' } }),
    );
    const result = await call(restEvent());
    expect(result).toMatchObject({ body: 'plain', isBase64Encoded: false });
  });

  it('a byte body with no content type goes out base64, bytes intact', async () => {
    const bytes = new Uint8Array([0xff, 0x00, 0xfe, 0x80]);
    const { call } = setup(async () => {
      const response = new Response(bytes);
      response.headers.delete('content-type');
      return response;
    });
    const result = await call(restEvent());
    expect(result.isBase64Encoded).toBe(true);
    expect([...Buffer.from(result.body, 'base64')]).toEqual([...bytes]);
  });
});
