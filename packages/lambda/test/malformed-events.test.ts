/**
 * Malformed HTTP events: every one is answered — a 400 with a short reason before the handler
 * runs, or the handler's own answer — never a 500 the handler did not cause, never a crash, and
 * never a change to `Object.prototype`.
 *
 * The known classes come first (each was a 500 once); then a structure-aware mutation fuzzer
 * over the real sample events in `packages/testing/fixtures/lambda-events` (fixed seed, bounded):
 * it deletes fields, changes their types, and plants unpaired surrogates, control characters,
 * invalid hosts and `__proto__` keys anywhere in the event tree.
 */
import { createMesh, type HttpHandler } from '@sidecarless/core';
import { lambdaContext, lambdaEvent, seeded } from '@sidecarless/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type LambdaHttpRaw, lambda } from '../src/index.js';

type Result = { statusCode: number; body: string };

const httpFixtures = [
  'apigw-rest-v1-proxy.json',
  'apigw-rest-v1-binary.json',
  'apigw-rest-v1-request-authorizer.json',
  'apigw-http-v2.json',
  'apigw-http-v2-iam.json',
  'apigw-http-v2-jwt-authorizer.json',
  'apigw-http-v2-lambda-authorizer.json',
  'function-url.json',
  'alb.json',
  'alb-multivalue-headers.json',
  'vpc-lattice-v2.json',
];

/** A handler that reads everything a real one would: URL, every header, the body. */
function setup() {
  const mesh = createMesh({ service: 'fuzz', logging: { level: 'silent' } });
  let calls = 0;
  const reader: HttpHandler<LambdaHttpRaw> = async (request) => {
    calls++;
    const url = new URL(request.url);
    const headers = [...request.headers];
    const body = await request.text();
    return Response.json({
      path: url.pathname,
      query: url.search,
      headers: headers.length,
      body: body.length,
    });
  };
  const handler = lambda(mesh, reader);
  return {
    mesh,
    calls: () => calls,
    call: async (event: unknown) => (await handler(event as never, lambdaContext())) as Result,
  };
}

const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

afterAll(() => {
  expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
});

describe('malformed Lambda HTTP events: the known classes', () => {
  const { call, calls } = setup();

  async function refused(event: unknown, reason: RegExp): Promise<void> {
    const before = calls();
    const result = await call(event);
    expect(result.statusCode).toBe(400);
    expect(JSON.parse(result.body).detail).toMatch(reason);
    expect(calls(), 'the handler must not run').toBe(before);
  }

  it('refuses a multiValueHeaders value that is not a list', async () => {
    const event = lambdaEvent<Record<string, Record<string, unknown>>>('apigw-rest-v1-proxy.json');
    event.multiValueHeaders!.Accept = 'text/html';
    await refused(event, /multiValueHeaders\["Accept"\] is not a list of strings/);
    const alb = lambdaEvent<Record<string, Record<string, unknown>>>('alb-multivalue-headers.json');
    alb.multiValueHeaders!.accept = { a: 1 };
    await refused(alb, /multiValueHeaders\["accept"\] is not a list of strings/);
    const query = lambdaEvent<Record<string, Record<string, unknown>>>('apigw-rest-v1-proxy.json');
    query.multiValueQueryStringParameters = { foo: 'bar' };
    await refused(query, /multiValueQueryStringParameters\["foo"\] is not a list/);
  });

  it('refuses an unpaired surrogate in the path or the query', async () => {
    const v2 = lambdaEvent<Record<string, unknown>>('apigw-http-v2.json');
    v2.rawPath = '/my/\uD800path';
    await refused(v2, /rawPath holds an unpaired surrogate/);
    const v2Query = lambdaEvent<Record<string, unknown>>('apigw-http-v2.json');
    v2Query.rawQueryString = 'a=\uDC00';
    await refused(v2Query, /rawQueryString holds an unpaired surrogate/);
    const v1 = lambdaEvent<Record<string, unknown>>('apigw-rest-v1-proxy.json');
    v1.path = '/\uDBFF';
    await refused(v1, /path holds an unpaired surrogate/);
    const v1Query = lambdaEvent<Record<string, unknown>>('apigw-rest-v1-proxy.json');
    v1Query.queryStringParameters = { q: '\uD83D' };
    v1Query.multiValueQueryStringParameters = { q: ['\uD83D'] };
    await refused(v1Query, /unpaired surrogate/);
  });

  it('refuses a host header that is not an authority', async () => {
    for (const host of ['a:99999', '[::1', 'u:p@h', 'h/x?', 'h#']) {
      const event = lambdaEvent<{ headers: Record<string, string> }>('apigw-http-v2.json');
      event.headers.host = host;
      await refused(event, /host header/);
    }
  });

  it('refuses a header name or value Fetch refuses, on every runtime alike', async () => {
    const name = lambdaEvent<{ headers: Record<string, string> }>('apigw-http-v2.json');
    name.headers['a"a'] = 'x';
    await refused(name, /header name/);
    // Beyond Latin-1 is carried percent-encoded (peer-shapes.test.ts); an unpaired surrogate or
    // a line break cannot be carried at all.
    const surrogate = lambdaEvent<{ headers: Record<string, string> }>('apigw-http-v2.json');
    surrogate.headers['x-city'] = '\ud842';
    await refused(surrogate, /the request header "x-city" is not valid/);
    const newline = lambdaEvent<{ headers: Record<string, string> }>('apigw-http-v2.json');
    newline.headers['x-city'] = 'a\r\nb';
    await refused(newline, /the request header "x-city" is not valid/);
  });

  it('still serves the sample events as they are', async () => {
    for (const name of httpFixtures) {
      const result = await call(lambdaEvent(name));
      expect(result.statusCode, name).toBe(200);
    }
  });
});

describe('malformed Lambda HTTP events: mutation fuzz (fixed seed)', () => {
  it('answers every mutated event with the handler or a 400, never a 500 or a crash', async () => {
    const { call, calls } = setup();
    const { next, pick } = seeded(0x1ab_da55);
    const hostile: readonly unknown[] = [
      null,
      0,
      -1,
      1e308,
      true,
      '',
      'x',
      '\uD800',
      'a\uDC00b',
      'line\r\nbreak',
      '\u0000',
      '\u708e',
      'a:99999',
      '[::1',
      'u:p@h',
      '%',
      '%zz',
      '/../..',
      '//x',
      'x'.repeat(20_000),
      [],
      ['x', 1],
      [null],
      [{}],
      {},
      { a: 'b' },
      { a: ['b'] },
      JSON.parse('{"__proto__": {"polluted": "yes"}}'),
      JSON.parse('{"constructor": {"prototype": {"polluted": "yes"}}}'),
    ];
    /** Every container (object or array) in the tree, with its keys. */
    const containers = (root: unknown): Array<Record<string, unknown>> => {
      const found: Array<Record<string, unknown>> = [];
      const walk = (node: unknown) => {
        if (typeof node !== 'object' || node === null) return;
        found.push(node as Record<string, unknown>);
        for (const value of Object.values(node)) walk(value);
      };
      walk(root);
      return found;
    };

    const cases = 4_000;
    let served = 0;
    let refused = 0;
    let unknown = 0;
    for (let i = 0; i < cases; i++) {
      const fixture = pick(httpFixtures);
      const event = lambdaEvent<Record<string, unknown>>(fixture);
      const mutations: string[] = [];
      for (let n = 1 + next(3); n > 0; n--) {
        const target = pick(containers(event));
        const keys = Object.keys(target);
        const key =
          keys.length > 0 && next(4) !== 0 ? pick(keys) : pick(['__proto__', 'constructor', 'extra', '0']);
        const action = next(5);
        if (action === 0) {
          delete target[key];
          mutations.push(`delete ${key}`);
        } else {
          const value = structuredClone(pick(hostile));
          // Own properties, as JSON.parse makes them: `__proto__` included.
          Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
          mutations.push(`${key} = ${JSON.stringify(value)?.slice(0, 40)}`);
        }
      }
      const context = `case ${i} (${fixture}): ${mutations.join('; ')}`;
      const before = calls();
      let result: Result;
      try {
        result = await call(event);
      } catch (error) {
        // A mutation can turn the event into no known source at all: a clear error, by design.
        expect((error as Error).message, context).toMatch(/not an event this handler can serve|expected/i);
        unknown++;
        continue;
      }
      expect(result.statusCode, context).not.toBe(500);
      if (result.statusCode === 400 || result.statusCode === 413) {
        expect(calls(), `${context}: the handler ran for a refused event`).toBe(before);
        refused++;
      } else {
        expect(result.statusCode, context).toBe(200);
        served++;
      }
      expect(({} as Record<string, unknown>).polluted, context).toBeUndefined();
    }
    if (process.env.FUZZ_REPORT) console.log({ cases, served, refused, unknown });
    expect(served + refused + unknown).toBe(cases);
    // The fuzz must reach both outcomes, or it tests nothing.
    expect(served).toBeGreaterThan(cases / 10);
    expect(refused).toBeGreaterThan(cases / 10);
  }, 60_000);
});
