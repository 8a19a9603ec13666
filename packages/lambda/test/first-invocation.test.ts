/**
 * The first invocation of a cold start. Reading the global `Request`, `Response` or `Headers`
 * loads Node's whole Fetch implementation (~40 ms); the lazy request, headers and
 * `LazyResponse` are `instanceof` those classes without reading them until something asks
 * (core's deferred-prototype.ts). Each case runs in a fresh process: in this one Fetch is loaded.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { lambdaEvent } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/first-invocation.mjs', import.meta.url));
// Lazy requests are used where the runtime's Request accepts them: undici before 7 (Node 22).
const lazyRequests = Number(process.versions.undici?.split('.')[0]) < 7;

describe('the first invocation of a cold start', () => {
  it(`loads Node's Fetch only where the runtime needs a real Request (${lazyRequests ? 'not here' : 'here'})`, async () => {
    const captured = lambdaEvent<{ requestContext: { http: Record<string, unknown> } }>('apigw-http-v2.json');
    const event = {
      ...captured,
      routeKey: 'POST /orders',
      requestContext: {
        ...captured.requestContext,
        http: { ...captured.requestContext.http, method: 'POST' },
      },
      headers: { 'content-type': 'application/json', 'user-agent': 'first-test' },
      body: '{"sku":"A-1"}',
      isBase64Encoded: false,
    };
    const { stdout } = await run(process.execPath, [fixture, JSON.stringify(event)]);
    const { first, loadedByFirst, wasInstance } = JSON.parse(stdout) as {
      first: { statusCode: number; headers: Record<string, string>; body: string };
      loadedByFirst: boolean;
      wasInstance: boolean;
    };
    expect(first.statusCode).toBe(201);
    expect(first.headers['content-type']).toBe('application/json');
    expect(JSON.parse(first.body)).toEqual({ sku: 'A-1', agent: 'first-test' });
    expect(loadedByFirst).toBe(!lazyRequests);
    // Asked later, the request is still a Request (the check links it to Fetch's prototype).
    expect(wasInstance).toBe(true);
  });
});
