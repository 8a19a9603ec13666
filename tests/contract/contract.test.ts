/**
 * One handler, every adapter: the same requests must produce the same statuses, headers,
 * bodies, context facts and error mapping on each platform.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters } from './adapters/index.ts';
import { binaryPayload } from './function.ts';
import type { RunningFunction } from './harness.ts';

const base = 'http://contract.test';

describe.each(adapters)('contract on $name', (adapter) => {
  let fn: RunningFunction;
  beforeAll(async () => {
    fn = await adapter.start();
  });
  afterAll(async () => {
    await fn?.stop();
  });

  it('delivers method, path, query, headers and body to the handler', async () => {
    const response = await fn.send(
      new Request(`${base}/echo?color=blue&size=10`, {
        method: 'POST',
        headers: { 'x-contract': 'yes', 'content-type': 'application/json' },
        body: '{"hello":"world"}',
      }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-handled-by')).toBe('contract');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({
      method: 'POST',
      path: '/echo',
      query: { color: 'blue', size: '10' },
      header: 'yes',
      contentType: 'application/json',
      body: '{"hello":"world"}',
      platform: adapter.platform,
      hasInvocationId: true,
      coldStartIsBoolean: true,
      deadlineInFuture: true,
      signalAborted: false,
    });
  });

  it('keeps percent-encoded query values intact', async () => {
    const response = await fn.send(new Request(`${base}/echo?q=a%20b%26c&emoji=%E2%9C%93`));
    expect(((await response.json()) as { query: unknown }).query).toEqual({ q: 'a b&c', emoji: '✓' });
  });

  it('carries binary bodies both ways unchanged', async () => {
    const echoed = await fn.send(
      new Request(`${base}/binary-echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: binaryPayload,
      }),
    );
    expect(new Uint8Array(await echoed.arrayBuffer())).toEqual(binaryPayload);
    const fetched = await fn.send(new Request(`${base}/binary`));
    expect(fetched.headers.get('content-type')).toBe('application/octet-stream');
    expect(new Uint8Array(await fetched.arrayBuffer())).toEqual(binaryPayload);
  });

  it('carries a 256 KiB body both ways unchanged', async () => {
    const large = Uint8Array.from({ length: 256 * 1024 }, (_, i) => (i * 31) % 256);
    const echoed = await fn.send(
      new Request(`${base}/binary-echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: large,
      }),
    );
    expect(echoed.status).toBe(200);
    expect(new Uint8Array(await echoed.arrayBuffer())).toEqual(large);
  });

  it('gives every invocation its own id, the http trigger and the service name', async () => {
    const first = (await (await fn.send(new Request(`${base}/facts`))).json()) as Record<string, unknown>;
    const second = (await (await fn.send(new Request(`${base}/facts`))).json()) as Record<string, unknown>;
    expect(first).toMatchObject({
      trigger: 'http',
      service: 'contract',
      attributesIsObject: true,
    });
    expect(first.invocationId).toEqual(expect.any(String));
    expect(first.invocationId).not.toBe(second.invocationId);
  });

  it('sends every Set-Cookie header', async () => {
    const response = await fn.send(new Request(`${base}/cookies`));
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/; HttpOnly', 'b=2; Path=/; Secure']);
  });

  it('answers an empty 204', async () => {
    const response = await fn.send(new Request(`${base}/no-content`));
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');
  });

  it('maps an unexpected error to a bare 500 problem', async () => {
    const response = await fn.send(new Request(`${base}/error/unexpected`));
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const text = await response.text();
    expect(text).not.toContain('hunter2');
    expect(JSON.parse(text)).toMatchObject({
      status: 500,
      code: 'SCL_ERR_INTERNAL',
      invocationId: expect.any(String),
    });
  });

  it('maps a SidecarlessError to its status, detail and headers', async () => {
    const response = await fn.send(new Request(`${base}/error/forbidden`));
    expect(response.status).toBe(403);
    expect(response.headers.get('x-reason')).toBe('contract');
    expect(await response.json()).toMatchObject({
      code: 'SCL_ERR_CONTRACT_FORBIDDEN',
      detail: 'you may not',
    });
  });

  it('refuses a handler result that is not a Response', async () => {
    const response = await fn.send(new Request(`${base}/error/not-a-response`));
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ code: 'SCL_ERR_INVALID_HANDLER_RESULT' });
  });

  it('lets the handler answer 404 for unknown paths', async () => {
    const response = await fn.send(new Request(`${base}/nowhere`));
    expect(response.status).toBe(404);
  });
});
