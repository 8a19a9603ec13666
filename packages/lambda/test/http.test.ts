import { createMesh, type HttpHandler, SidecarlessError } from '@sidecarless/core';
import { captureLogs, lambdaContext, lambdaEvent, resetColdStart } from '@sidecarless/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { type LambdaHttpRaw, lambda } from '../src/index.js';

type Result = {
  statusCode: number;
  statusDescription?: string;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  cookies?: string[];
  body: string;
  isBase64Encoded: boolean;
};

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  platform: string;
  trigger: string;
  invocationId: string;
  raw: LambdaHttpRaw;
}

function setup(handler?: HttpHandler<LambdaHttpRaw>) {
  const logs = captureLogs();
  const mesh = createMesh({
    service: 'lambda-test',
    logging: { level: 'info', destination: logs.destination },
  });
  const seen: Seen[] = [];
  const echo: HttpHandler<LambdaHttpRaw> = async (request, ctx) => {
    seen.push({
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      body: await request.text(),
      platform: ctx.platform,
      trigger: ctx.trigger,
      invocationId: ctx.invocationId,
      raw: ctx.raw,
    });
    return Response.json({ ok: true }, { headers: { 'x-handled': 'yes' } });
  };
  const handler_ = lambda(mesh, handler ?? echo);
  const call = async (event: unknown, context = lambdaContext()) =>
    (await handler_(event, context)) as Result;
  return { mesh, logs, seen, call };
}

beforeEach(() => resetColdStart());

describe('lambda() on API Gateway REST (payload 1.0)', () => {
  it('delivers the proxy event as a Request with the original URL, headers and body', async () => {
    const { call, seen } = setup();
    const event = lambdaEvent('apigw-rest-v1-proxy.json');
    const context = lambdaContext({ requestId: 'req-v1' });
    const result = await call(event, context);
    expect(result.statusCode).toBe(200);
    expect(result.multiValueHeaders?.['x-handled']).toEqual(['yes']);
    expect(result.multiValueHeaders?.['content-type']).toEqual(['application/json']);
    expect(JSON.parse(result.body)).toEqual({ ok: true });
    expect(result.isBase64Encoded).toBe(false);
    const request = seen[0]!;
    expect(request.method).toBe('POST');
    expect(request.url).toBe('https://gy415nuibc.execute-api.us-east-1.amazonaws.com/hello/world?name=me');
    expect(request.headers.headername).toBe('headerValue');
    expect(request.body).toBe('{\r\n\t"a": 1\r\n}');
    expect(request.platform).toBe('aws-lambda');
    expect(request.trigger).toBe('http');
    expect(request.invocationId).toBe('req-v1');
    expect(request.raw.event).toBe(event);
    expect(request.raw.context).toBe(context);
  });

  it('re-encodes the decoded path and query and decodes a base64 body', async () => {
    let bytes: Uint8Array | undefined;
    let url = '';
    const { call } = setup(async (request) => {
      url = request.url;
      bytes = new Uint8Array(await request.arrayBuffer());
      return new Response(null, { status: 204 });
    });
    const result = await call(lambdaEvent('apigw-rest-v1-binary.json'));
    expect(result.statusCode).toBe(204);
    expect(result.body).toBe('');
    expect(url).toBe(
      'https://abc123.execute-api.eu-west-1.amazonaws.com/files/report%202026%25.bin?tag=a%26b&tag=%C3%BC',
    );
    expect(new URL(url).searchParams.getAll('tag')).toEqual(['a&b', 'ü']);
    expect([...bytes!]).toEqual([0, 1, 2, 253, 254, 255]);
  });

  it('handles the request-authorizer sample (no body) as a GET', async () => {
    const { call, seen } = setup();
    const result = await call(lambdaEvent('apigw-rest-v1-request-authorizer.json'));
    expect(result.statusCode).toBe(200);
    expect(seen[0]!.method).toBe('GET');
    expect(seen[0]!.body).toBe('');
    expect(new URL(seen[0]!.url).pathname).toBe('/request');
  });

  it('sends every Set-Cookie in multiValueHeaders', async () => {
    const { call } = setup(async () => {
      const headers = new Headers();
      headers.append('set-cookie', 'a=1; Path=/');
      headers.append('set-cookie', 'b=2; Secure');
      return new Response('hi', { headers });
    });
    const result = await call(lambdaEvent('apigw-rest-v1-proxy.json'));
    expect(result.multiValueHeaders?.['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Secure']);
  });
});

describe('lambda() on HTTP APIs (payload 2.0) and Function URLs', () => {
  it.each([
    'apigw-http-v2.json',
    'apigw-http-v2-iam.json',
    'apigw-http-v2-jwt-authorizer.json',
    'apigw-http-v2-lambda-authorizer.json',
  ])('delivers %s with rawPath, rawQueryString and cookies', async (name) => {
    const { call, seen } = setup();
    const event = lambdaEvent<{
      rawPath: string;
      rawQueryString: string;
      cookies?: string[];
      requestContext: { http: { method: string } };
      headers: Record<string, string>;
    }>(name);
    const result = await call(event);
    expect(result.statusCode).toBe(200);
    expect(result.headers?.['content-type']).toBe('application/json');
    expect(result.cookies).toBeUndefined();
    const url = new URL(seen[0]!.url);
    expect(url.pathname).toBe(event.rawPath);
    expect(url.search).toBe(event.rawQueryString ? `?${event.rawQueryString}` : '');
    expect(seen[0]!.method).toBe(event.requestContext.http.method);
    if (event.cookies) expect(seen[0]!.headers.cookie).toBe(event.cookies.join('; '));
  });

  it('delivers the Function URL sample and answers cookies in `cookies`', async () => {
    let body = '';
    let url = '';
    const { call } = setup(async (request) => {
      body = await request.text();
      url = request.url;
      const headers = new Headers({ 'content-type': 'text/plain' });
      headers.append('set-cookie', 'session=1; HttpOnly');
      headers.append('set-cookie', 'theme=dark');
      return new Response('done', { headers });
    });
    const result = await call(lambdaEvent('function-url.json'));
    expect(body).toBe('Hello from client!');
    expect(url).toContain('/my/path?parameter1=value1&parameter1=value2&parameter2=value');
    expect(result.cookies).toEqual(['session=1; HttpOnly', 'theme=dark']);
    expect(result.headers?.['set-cookie']).toBeUndefined();
    expect(result.body).toBe('done');
  });

  it('sends binary bodies base64-encoded and text bodies as they are', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 255]);
    const { call } = setup(async (request) =>
      new URL(request.url).pathname === '/my/path'
        ? new Response(png, { headers: { 'content-type': 'image/png' } })
        : new Response('x'),
    );
    const result = await call(lambdaEvent('function-url.json'));
    expect(result.isBase64Encoded).toBe(true);
    expect([...Buffer.from(result.body, 'base64')]).toEqual([...png]);
  });

  it('lets a custom predicate decide what is binary', async () => {
    const mesh = createMesh({ service: 's', logging: { level: 'silent' } });
    const handler = lambda(
      mesh,
      async () => new Response('plain', { headers: { 'content-type': 'text/plain' } }),
      {
        isBinary: () => true,
      },
    );
    const result = (await handler(lambdaEvent('function-url.json'), lambdaContext())) as Result;
    expect(result.isBase64Encoded).toBe(true);
    expect(Buffer.from(result.body, 'base64').toString()).toBe('plain');
  });

  it('answers a HEAD request with headers and no body', async () => {
    const { call } = setup(async () => new Response('a body', { headers: { 'content-type': 'text/plain' } }));
    const event = lambdaEvent<Record<string, unknown> & { requestContext: { http: { method: string } } }>(
      'apigw-http-v2.json',
    );
    event.requestContext.http.method = 'HEAD';
    const result = await call(event);
    expect(result.statusCode).toBe(200);
    expect(result.body).toBe('');
    expect(result.headers?.['content-type']).toBe('text/plain');
  });

  it('reads a streamed response body', async () => {
    const { call } = setup(
      async () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('chunk-1 '));
              controller.enqueue(new TextEncoder().encode('chunk-2'));
              controller.close();
            },
          }),
          { headers: { 'content-type': 'text/plain' } },
        ),
    );
    const result = await call(lambdaEvent('apigw-http-v2.json'));
    expect(result.body).toBe('chunk-1 chunk-2');
  });
});

describe('lambda() on ALB', () => {
  it('answers a single-value request in single-value mode with a status description', async () => {
    const { call, seen } = setup(async () => {
      const headers = new Headers({ 'content-type': 'text/plain' });
      headers.append('set-cookie', 'a=1');
      headers.append('set-cookie', 'b=2');
      return new Response('hello', { status: 201, headers });
    });
    const result = await call(lambdaEvent('alb.json'));
    expect(result.statusCode).toBe(201);
    expect(result.statusDescription).toBe('201 Created');
    expect(result.multiValueHeaders).toBeUndefined();
    expect(result.headers?.['content-type']).toBe('text/plain');
    expect(result.headers?.['set-cookie']).toBe('b=2');
    expect(result.body).toBe('hello');
    expect(seen).toEqual([]);
  });

  it('delivers the single-value sample', async () => {
    const { call, seen } = setup();
    await call(lambdaEvent('alb.json'));
    expect(seen[0]!.method).toBe('GET');
    const event = lambdaEvent<{ headers: Record<string, string> }>('alb.json');
    expect(seen[0]!.url).toBe(`http://${event.headers.host}/?key=hello`);
    expect(seen[0]!.headers['x-amzn-trace-id']).toBe(event.headers['x-amzn-trace-id']);
  });

  it('answers a multi-value request in multi-value mode', async () => {
    const { call, seen } = setup(async () => {
      const headers = new Headers({ 'content-type': 'text/plain' });
      headers.append('set-cookie', 'a=1');
      headers.append('set-cookie', 'b=2');
      return new Response('hello', { headers });
    });
    const result = await call(lambdaEvent('alb-multivalue-headers.json'));
    expect(result.statusDescription).toBe('200 OK');
    expect(result.headers).toBeUndefined();
    expect(result.multiValueHeaders?.['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(seen).toEqual([]);
  });

  it('delivers the multi-value sample with its query', async () => {
    const { call, seen } = setup();
    await call(lambdaEvent('alb-multivalue-headers.json'));
    expect(seen[0]!.url).toBe('http://lambda-test-alb-1234567.us-east-1.elb.amazonaws.com/?key=hello');
    expect(seen[0]!.headers['x-myheader']).toBe('123');
  });
});

describe('lambda() on VPC Lattice (payload 2.0)', () => {
  it('delivers multi-value headers and query and a base64 body', async () => {
    const { call, seen } = setup();
    const result = await call(lambdaEvent('vpc-lattice-v2.json'));
    expect(result.statusCode).toBe(200);
    expect(result.statusDescription).toBe('200 OK');
    expect(result.headers?.['content-type']).toBe('application/json');
    const request = seen[0]!;
    expect(request.method).toBe('POST');
    const url = new URL(request.url);
    expect(url.host).toBe('orders-0a1b2c3d.7d67968.vpc-lattice-svcs.us-east-1.on.aws');
    expect(url.pathname).toBe('/orders/7');
    expect(url.searchParams.getAll('expand')).toEqual(['items', 'customer']);
    expect(url.searchParams.get('note')).toBe('a b&c');
    expect(request.headers['x-multi']).toBe('one, two');
    expect(request.body).toBe('{"qty":2}');
  });
});

describe('lambda() with bad input', () => {
  it('throws a clear error naming the expected events for an unknown event', async () => {
    const { call, seen } = setup();
    await expect(call(lambdaEvent('sqs.json'))).rejects.toThrow(
      /expected an API Gateway REST .* event.*lambda\.sqs/,
    );
    await expect(call(null)).rejects.toThrow(/expected an API Gateway/);
    expect(seen).toEqual([]);
  });

  it('points WebSocket events to lambda.event', async () => {
    const { call } = setup();
    await expect(call(lambdaEvent('apigw-websocket.json'))).rejects.toThrow(
      /WebSocket event: wrap that function with lambda.event/,
    );
  });

  it('answers 400 for invalid base64 without running the handler', async () => {
    const { call, seen, logs } = setup();
    const event = { ...lambdaEvent('apigw-http-v2.json'), body: 'not*base64!', isBase64Encoded: true };
    const result = await call(event);
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body)).toMatchObject({
      status: 400,
      detail: 'the event body is not valid base64',
    });
    expect(seen).toEqual([]);
    expect(logs.withMessage('malformed event refused')).toHaveLength(1);
  });

  it('answers 400 for an event with no valid method', async () => {
    const { call, seen } = setup();
    const event = lambdaEvent<Record<string, unknown>>('apigw-rest-v1-proxy.json');
    event.httpMethod = 'GET /x';
    const result = await call(event);
    expect(result.statusCode).toBe(400);
    expect(result.multiValueHeaders?.['content-type']).toEqual(['application/problem+json']);
    expect(seen).toEqual([]);
  });

  it('answers 413 for a body over maxBodyBytes, in the source format', async () => {
    const mesh = createMesh({ service: 's', logging: { level: 'silent' } });
    const handler = lambda(mesh, async () => new Response('unreached'), { maxBodyBytes: 8 });
    const alb = { ...lambdaEvent('alb.json'), body: 'x'.repeat(9) };
    const result = (await handler(alb, lambdaContext())) as Result;
    expect(result.statusCode).toBe(413);
    expect(result.statusDescription).toBe('413 Content Too Large');
    const base64 = {
      ...lambdaEvent('alb.json'),
      body: Buffer.alloc(12).toString('base64'),
      isBase64Encoded: true,
    };
    expect(((await handler(base64, lambdaContext())) as Result).statusCode).toBe(413);
  });

  it('answers 400 for a header value Fetch refuses', async () => {
    const { call } = setup();
    const event = lambdaEvent<{ headers: Record<string, string> }>('apigw-http-v2.json');
    event.headers['x-bad'] = 'line\nbreak';
    const result = await call(event);
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).detail).toBe('the request header "x-bad" is not valid');
  });

  it('turns a handler exception into a bare 500, logged once, with no stack', async () => {
    const { call, logs } = setup(async () => {
      throw new Error('db password hunter2 rejected');
    });
    const result = await call(lambdaEvent('apigw-http-v2.json'));
    expect(result.statusCode).toBe(500);
    expect(result.body).not.toContain('hunter2');
    expect(result.body).not.toContain('at ');
    expect(JSON.parse(result.body)).toMatchObject({ code: 'SCL_ERR_INTERNAL' });
    expect(logs.withMessage('handler threw')).toHaveLength(1);
  });

  it('maps a SidecarlessError to its status and exposed detail', async () => {
    const { call } = setup(async () => {
      throw new SidecarlessError('SCL_ERR_NOPE', 'not yours', { status: 403 });
    });
    const result = await call(lambdaEvent('alb.json'));
    expect(result.statusCode).toBe(403);
    expect(JSON.parse(result.body)).toMatchObject({ code: 'SCL_ERR_NOPE', detail: 'not yours' });
  });

  it('refuses a call without a Lambda context', async () => {
    const mesh = createMesh({ service: 's', logging: { level: 'silent' } });
    const handler = lambda(mesh, async () => new Response('x'));
    await expect(handler(lambdaEvent('alb.json'), undefined as never)).rejects.toThrow(
      /expected the Lambda context/,
    );
  });

  it('checks its options once, naming the field and the fix', () => {
    const mesh = createMesh({ service: 's', logging: { level: 'silent' } });
    expect(() =>
      lambda(mesh, async () => new Response('x'), { safetyMargin: '2 sec', maxBodyBytes: -1 } as never),
    ).toThrow(
      /lambda\.safetyMargin: "2 sec" is not a duration; use "300ms" or 300[\s\S]*lambda\.maxBodyBytes/,
    );
    expect(() => lambda(mesh, async () => new Response('x'), { binary: true } as never)).toThrow(
      /lambda\.binary: unknown option/,
    );
  });
});

describe('lambda() reading response bodies', () => {
  it.each([
    ['a string', () => new Response('héllo', { headers: { 'content-type': 'text/plain' } }), 'héllo'],
    ['Response.json', () => Response.json({ a: 'é' }), '{"a":"é"}'],
    [
      'bytes',
      () => new Response(new TextEncoder().encode('bytes'), { headers: { 'content-type': 'text/plain' } }),
      'bytes',
    ],
    [
      'a Blob',
      () => new Response(new Blob(['from a blob']), { headers: { 'content-type': 'text/plain' } }),
      'from a blob',
    ],
    [
      'a multi-chunk stream',
      () =>
        new Response(
          new ReadableStream({
            start(controller) {
              for (const part of ['a', 'é', 'c']) controller.enqueue(new TextEncoder().encode(part));
              controller.close();
            },
          }),
          { headers: { 'content-type': 'text/plain' } },
        ),
      'aéc',
    ],
  ])('sends a body made from %s unchanged', async (_name, make, expected) => {
    const { call } = setup(async () => make());
    const result = await call(lambdaEvent('apigw-http-v2.json'));
    expect(result.isBase64Encoded).toBe(false);
    expect(result.body).toBe(expected);
  });

  it('sends a body a middleware already read as the middleware replaced it', async () => {
    const mesh = createMesh({
      service: 's',
      logging: { level: 'silent' },
      middleware: [
        {
          name: 'upper',
          http: (next) => async (request, ctx) => {
            const response = await next(request, ctx);
            return new Response((await response.text()).toUpperCase(), response);
          },
        },
      ],
    });
    const handler = lambda(
      mesh,
      async () => new Response('quiet', { headers: { 'content-type': 'text/plain' } }),
    );
    const result = (await handler(lambdaEvent('apigw-http-v2.json'), lambdaContext())) as Result;
    expect(result.body).toBe('QUIET');
  });
});

describe('lambda() telling Function URLs from HTTP APIs', () => {
  it('recognises a Function URL by its lambda-url domain even with a route key', async () => {
    const { mesh, logs } = (() => {
      const captured = captureLogs();
      return {
        logs: captured,
        mesh: createMesh({ service: 's', logging: { level: 'info', destination: captured.destination } }),
      };
    })();
    const handler = lambda(mesh, async () => new Response('x'));
    const event = lambdaEvent<Record<string, unknown> & { requestContext: Record<string, unknown> }>(
      'function-url.json',
    );
    event.routeKey = '$default';
    event.requestContext.routeKey = '$default';
    event.requestContext.domainName = 'abcdefg.lambda-url.us-east-1.on.aws';
    // A malformed body makes the adapter log which source it recognised.
    event.body = '%%%';
    event.isBase64Encoded = true;
    const result = (await handler(event, lambdaContext())) as Result;
    expect(result.statusCode).toBe(400);
    expect(logs.withMessage('malformed event refused')[0]).toMatchObject({ source: 'function-url' });
    const api = lambdaEvent<Record<string, unknown>>('apigw-http-v2.json');
    await handler({ ...api, body: '%%%', isBase64Encoded: true }, lambdaContext());
    expect(logs.withMessage('malformed event refused')[1]).toMatchObject({ source: 'api-gateway-http' });
  });
});

describe('lambda() with a response over the size limit', () => {
  it('logs the size and answers a 500 problem instead of a result Lambda would refuse', async () => {
    const logs = captureLogs();
    const mesh = createMesh({ service: 's', logging: { level: 'info', destination: logs.destination } });
    const handler = lambda(
      mesh,
      async (request) => new Response('é'.repeat(Number(new URL(request.url).searchParams.get('n')))),
      {
        maxResponseBytes: 100,
      },
    );
    const event = (n: number) => ({ ...lambdaEvent('apigw-http-v2.json'), rawQueryString: `n=${n}` });
    const fits = (await handler(event(50), lambdaContext())) as Result;
    expect(fits.statusCode).toBe(200);
    const over = (await handler(event(51), lambdaContext())) as Result;
    expect(over.statusCode).toBe(500);
    expect(JSON.parse(over.body)).toMatchObject({ code: 'SCL_ERR_INTERNAL' });
    expect(logs.withMessage('response body too large for Lambda')[0]).toMatchObject({
      bytes: 102,
      limit: 100,
    });
  });
});
