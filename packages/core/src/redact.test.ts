/**
 * Secrets inside what applications really log: the errors HTTP clients throw (built here in the
 * shapes axios, got and the AWS SDK v3 give them — the libraries themselves are not loaded), the
 * raw event shapes the adapters know, header-pair arrays, and the configured token sources.
 * Every case writes through the mesh's logger and asserts the secret is nowhere in the output.
 */

import { captureLogs } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import type { AnyFeature, Feature } from './features.js';
import { invoke } from './local.js';
import { createMesh } from './mesh.js';
import type { MeshOptions } from './options/index.js';

const bearer = 'Bearer eyJhbGciOiJFUzI1NiJ9.c2VjcmV0.c2ln';
const apiKey = 'k-live-9f8e7d';
const sessionCookie = 'session=s3cr3t-cookie';

/** A mesh writing into captured lines, with `extra` options. */
function meshWithLogs(extra: Record<string, unknown> = {}, features: readonly AnyFeature[] = []) {
  const logs = captureLogs();
  const mesh = createMesh(
    { service: 'orders', ...extra, logging: { destination: logs.destination } } as MeshOptions,
    features,
  );
  return { logs, mesh };
}

/** Header storage as axios 1.x keeps it: a class instance with one own property per header. */
class AxiosHeadersLike {
  constructor(headers: Record<string, string>) {
    Object.assign(this, headers);
  }
}

/** An error in the shape axios 1.x throws for a 401: config, request (cyclic) and response. */
function axiosError(): Error {
  const error = new Error('Request failed with status code 401') as Error & Record<string, unknown>;
  error.name = 'AxiosError';
  error.code = 'ERR_BAD_REQUEST';
  error.config = {
    url: 'https://partner.example.com/v1/charge?api_key=k-query-555',
    method: 'post',
    headers: new AxiosHeadersLike({ Authorization: bearer, 'X-Api-Key': apiKey, Accept: 'application/json' }),
  };
  const request: Record<string, unknown> = {
    method: 'POST',
    path: '/v1/charge',
    // Node's ClientRequest keeps the header block it wrote.
    _header: `POST /v1/charge HTTP/1.1\r\nAccept: application/json\r\nAuthorization: ${bearer}\r\nX-Api-Key: ${apiKey}\r\nHost: partner.example.com\r\n\r\n`,
  };
  const response = {
    status: 401,
    headers: new AxiosHeadersLike({ 'set-cookie': sessionCookie, 'content-type': 'application/json' }),
    request,
  };
  request.res = response;
  error.request = request;
  error.response = response;
  return error;
}

/** An error in the shape got 14 throws: the options (headers) five levels below the error. */
function gotError(): Error {
  const error = new Error('Response code 403 (Forbidden)') as Error & Record<string, unknown>;
  error.name = 'HTTPError';
  error.code = 'ERR_NON_2XX_3XX_RESPONSE';
  error.timings = { start: 1 };
  error.response = {
    statusCode: 403,
    request: {
      requestUrl: 'https://x.example.com/',
      options: { headers: { authorization: bearer, 'user-agent': 'got' } },
    },
  };
  return error;
}

/** An error in the shape the AWS SDK v3 throws: `$metadata` and the raw `$response`. */
function awsSdkError(): Error {
  const error = new Error('The security token included in the request is invalid.') as Error &
    Record<string, unknown>;
  error.name = 'UnrecognizedClientException';
  error.$fault = 'client';
  error.$metadata = { httpStatusCode: 400, requestId: 'req-1', attempts: 1 };
  error.$response = {
    statusCode: 400,
    headers: { 'x-amz-security-token': 'IQoJb3JpZ2luX2VjEXAMPLE', 'set-cookie': sessionCookie },
  };
  return error;
}

const secrets = [bearer, 'c2VjcmV0', apiKey, 'k-query-555', 's3cr3t-cookie', 'IQoJb3JpZ2luX2VjEXAMPLE'];

function expectClean(raw: string): void {
  for (const secret of secrets) expect(raw, `"${secret}" was written`).not.toContain(secret);
  expect(raw).toContain('[redacted]');
}

describe('secrets inside errors', () => {
  it.each([
    ['axios', axiosError],
    ['got', gotError],
    ['the AWS SDK', awsSdkError],
  ])('censors an error from %s logged under err, keeping what is not secret', (_name, build) => {
    const { logs, mesh } = meshWithLogs();
    mesh.log.error({ err: build() }, 'charge failed');
    const raw = logs.raw.join('');
    expectClean(raw);
    const [line] = logs.withMessage('charge failed');
    expect(line!.err).toMatchObject({ message: expect.any(String), stack: expect.any(String) });
  });

  it('keeps the structure around the censored values of an axios error', () => {
    const { logs, mesh } = meshWithLogs();
    mesh.log.error({ err: axiosError() }, 'charge failed');
    const err = logs.withMessage('charge failed')[0]!.err as {
      code: string;
      config: { headers: unknown; url: string };
      response: { headers: Record<string, string> };
      request: { _header: string; res: { request: unknown } };
    };
    expect(err.code).toBe('ERR_BAD_REQUEST');
    expect(err.config.headers).toEqual({
      Authorization: '[redacted]',
      'X-Api-Key': '[redacted]',
      Accept: 'application/json',
    });
    expect(err.config.url).toBe('https://partner.example.com/v1/charge?api_key=[redacted]');
    expect(err.response.headers['set-cookie']).toBe('[redacted]');
    expect(err.response.headers['content-type']).toBe('application/json');
    expect(err.request._header).toContain('Authorization: [redacted]\r\n');
    expect(err.request._header).toContain('Host: partner.example.com\r\n');
    expect(err.request.res.request).toBe('[Circular]');
  });

  it('censors an error passed as the first argument, and one under another key', () => {
    const { logs, mesh } = meshWithLogs();
    mesh.log.error(axiosError(), 'first argument');
    mesh.log.warn({ failure: gotError(), retrying: true }, 'other key');
    expectClean(logs.raw.join(''));
    expect(logs.withMessage('other key')[0]).toMatchObject({ retrying: true });
  });

  it('censors errors nested in an error: a wrapped one, an aggregate, and a plain cause object', () => {
    const { logs, mesh } = meshWithLogs();
    const wrapper = new Error('stock sync failed', { cause: axiosError() }) as Error &
      Record<string, unknown>;
    wrapper.original = awsSdkError();
    mesh.log.error({ err: wrapper }, 'wrapped');
    mesh.log.error({ err: new AggregateError([axiosError(), gotError()], 'all failed') }, 'aggregate');
    const plainCause = new Error('outer') as Error & Record<string, unknown>;
    plainCause.cause = { headers: { authorization: bearer } };
    mesh.log.error({ err: plainCause }, 'plain cause');
    expectClean(logs.raw.join(''));
    expect(logs.withMessage('wrapped')[0]!.err).toMatchObject({
      message: 'stock sync failed: Request failed with status code 401',
      original: { $metadata: { requestId: 'req-1' } },
    });
  });

  it('censors an error that serialises itself with toJSON (as AxiosError does)', () => {
    const { logs, mesh } = meshWithLogs();
    const error = axiosError() as Error & { toJSON?: () => unknown };
    const config = (error as unknown as { config: unknown }).config;
    error.toJSON = () => ({ message: error.message, name: error.name, config });
    mesh.log.warn({ failure: error }, 'to json');
    expectClean(logs.raw.join(''));
    expect(logs.withMessage('to json')[0]).toMatchObject({ failure: { name: 'AxiosError' } });
  });

  it('writes the handler-threw line without the secrets of an HTTP client error', async () => {
    const { logs, mesh } = meshWithLogs();
    const response = await invoke(
      mesh,
      () => {
        throw axiosError();
      },
      'http://localhost/charge',
    );
    expect(response.status).toBe(500);
    expect(logs.withMessage('handler threw')).toHaveLength(1);
    expectClean(logs.raw.join(''));
  });
});

describe('secrets in the shapes adapters and applications log', () => {
  it('censors the HTTP API event’s cookies and the token parameters of rawQueryString', () => {
    const { logs, mesh } = meshWithLogs();
    const event = {
      version: '2.0',
      rawPath: '/v1/orders',
      rawQueryString: 'page=2&access_token=tok-in-query&id_token=idt-secret',
      cookies: [sessionCookie, 'theme=dark'],
      headers: { cookie: `${sessionCookie}; theme=dark`, host: 'api.example.com' },
      queryStringParameters: { page: '2', access_token: 'tok-in-query' },
    };
    mesh.log.info({ event }, 'event');
    const raw = logs.raw.join('');
    for (const secret of ['tok-in-query', 'idt-secret', 's3cr3t-cookie']) expect(raw).not.toContain(secret);
    expect(logs.withMessage('event')[0]).toMatchObject({
      event: {
        rawQueryString: 'page=2&access_token=[redacted]&id_token=[redacted]',
        cookies: '[redacted]',
        headers: { host: 'api.example.com' },
        queryStringParameters: { page: '2' },
      },
    });
  });

  it('censors header pairs ([...request.headers]) and a raw header list (Node’s rawHeaders)', () => {
    const { logs, mesh } = meshWithLogs();
    const headers = new Headers({ authorization: bearer, 'x-api-key': apiKey, accept: 'text/plain' });
    const rawHeaders = ['Host', 'h.example.com', 'Authorization', bearer, 'Cookie', sessionCookie];
    mesh.log.info({ pairs: [...headers], rawHeaders }, 'headers');
    expectClean(logs.raw.join(''));
    expect(logs.withMessage('headers')[0]).toMatchObject({
      pairs: [
        ['accept', 'text/plain'],
        ['authorization', '[redacted]'],
        ['x-api-key', '[redacted]'],
      ],
      rawHeaders: ['Host', 'h.example.com', 'Authorization', '[redacted]', 'Cookie', '[redacted]'],
    });
  });

  it('censors a request URL’s token parameters', () => {
    const { logs, mesh } = meshWithLogs();
    mesh.log.info({ url: 'https://h.example.com/cb?code=ok&access_token=tok-in-url#x' }, 'url');
    expect(logs.raw.join('')).not.toContain('tok-in-url');
    expect(logs.withMessage('url')[0]!.url).toBe(
      'https://h.example.com/cb?code=ok&access_token=[redacted]#x',
    );
  });

  it('censors the headers, parameters and cookies a feature declares secret', () => {
    // A feature's secrets() feeds the logger; @sidecarless/auth declares its JWT token sources
    // this way (packages/auth/test/token-sources.test.ts).
    const tokenSources: Feature<
      'tokens',
      { fields: string[]; params: string[] },
      { fields: string[]; params: string[] }
    > = {
      name: 'tokens',
      section: 'tokens',
      check: (value) => value as { fields: string[]; params: string[] },
      secrets: (section) => section,
      start: () => undefined,
    };
    const { logs, mesh } = meshWithLogs({ tokens: { fields: ['X-Auth-Token', 'sid'], params: ['sig'] } }, [
      tokenSources,
    ]);
    mesh.log.info(
      {
        headers: { 'x-auth-token': 'hdr-token-1', 'x-trace': 'fine' },
        query: { sig: 'param-token-2' },
        rawQueryString: 'sig=param-token-3&page=1',
        cookies: { sid: 'cookie-token-4' },
      },
      'sources',
    );
    const raw = logs.raw.join('');
    for (const secret of ['hdr-token-1', 'param-token-2', 'param-token-3', 'cookie-token-4'])
      expect(raw).not.toContain(secret);
    expect(logs.withMessage('sources')[0]).toMatchObject({
      headers: { 'x-trace': 'fine' },
      rawQueryString: 'sig=[redacted]&page=1',
    });
  });

  it('censors a secret nested deeper than the plain walk goes, and survives a cycle', () => {
    const { logs, mesh } = meshWithLogs();
    const deep: Record<string, unknown> = {
      a: { b: { c: { d: { e: { f: { password: 'deep-hunter2' } } } } } },
    };
    deep.self = deep;
    mesh.log.info({ deep }, 'deep');
    expect(logs.raw.join('')).not.toContain('deep-hunter2');
    expect(logs.withMessage('deep')[0]).toMatchObject({ deep: { self: '[Circular]' } });
  });
});
