import { invoke } from '@sidecarless/core/local';
import { refusedPort } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';

import { listen, mesh, server } from './outbound-fixture.ts';

describe('upstream fetch', () => {
  it('returns a standard Response with status, headers and body from the endpoint', async () => {
    const up = await server('inventory');
    up.respond({ status: 201, headers: { 'x-stock': '7' }, body: '{"sku":"a"}' });
    const m = mesh({ inventory: { endpoints: `${up.url}/api` } });
    const response = await m.upstream('inventory').fetch('/items?sku=a');
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(201);
    expect(response.headers.get('x-stock')).toBe('7');
    expect(await response.json()).toEqual({ sku: 'a' });
    expect(up.requests[0]?.url).toBe('/api/items?sku=a');
  });

  it('reuses pooled keep-alive connections across sequential calls', async () => {
    const up = await server();
    const m = mesh({ inventory: { endpoints: up.url } });
    for (let i = 0; i < 8; i++) await (await m.upstream('inventory').fetch('/')).text();
    expect(up.requests).toHaveLength(8);
    // undici frees a connection a microtask after the body ends, so a caller that fetches again
    // at once may open a second one (raw undici.request does the same); never more than that.
    expect(up.connections).toBeLessThanOrEqual(2);
  });

  it('refuses an absolute URL to a host that is not an endpoint', async () => {
    const up = await server();
    const m = mesh({ inventory: { endpoints: up.url } });
    await expect(m.upstream('inventory').fetch('http://127.0.0.1:9/steal')).rejects.toMatchObject({
      code: 'SCL_ERR_UPSTREAM_PASSTHROUGH_REFUSED',
    });
  });

  it('sends an absolute URL to another host when passthrough is on', async () => {
    const up = await server();
    const other = await server('other');
    const m = mesh({ inventory: { endpoints: up.url, passthrough: true } });
    const response = await m.upstream('inventory').fetch(`${other.url}/x`);
    expect(await response.text()).toBe('200 from other');
  });

  it('drops hop-by-hop headers and sends the remaining deadline', async () => {
    const up = await server();
    const m = mesh({ inventory: { endpoints: up.url } });
    await invoke(
      m,
      async (_request, ctx) => {
        const response = await ctx.upstream('inventory').fetch('/', {
          headers: { connection: 'close', 'keep-alive': 'timeout=5', upgrade: 'h2c', 'x-keep': 'yes' },
        });
        return new Response(await response.text());
      },
      'http://localhost/',
      { timeout: '5s' },
    );
    const headers = up.requests[0]!.headers;
    expect(headers.upgrade).toBeUndefined();
    expect(headers['keep-alive']).toBeUndefined();
    expect(headers['x-keep']).toBe('yes');
    const left = Number(headers['x-sidecarless-deadline-ms']);
    expect(left).toBeGreaterThan(4_000);
    expect(left).toBeLessThanOrEqual(4_950);
  });

  it('retries a 503 (Istio default) and returns the later success', async () => {
    const up = await server();
    up.respond({ status: 503 }, { status: 200, body: 'ok' });
    const retries = listen<{ reason: string }>('sidecarless:upstream:retry');
    const m = mesh({ inventory: { endpoints: up.url } });
    const response = await m.upstream('inventory').fetch('/');
    retries.stop();
    expect(await response.text()).toBe('ok');
    expect(up.requests).toHaveLength(2);
    expect(retries.messages.map((m) => m.reason)).toEqual(['503']);
  });

  it('returns the last 5xx response when attempts run out', async () => {
    const up = await server();
    up.fallback = { status: 503 };
    const m = mesh({
      inventory: { endpoints: up.url, retries: { attempts: 2, backoff: { baseInterval: '1ms' } } },
    });
    const response = await m.upstream('inventory').fetch('/');
    expect(response.status).toBe(503);
    expect(up.requests).toHaveLength(3);
  });

  it('does not retry a POST without an Idempotency-Key', async () => {
    const up = await server();
    up.fallback = { status: 503 };
    const m = mesh({ inventory: { endpoints: up.url } });
    const response = await m.upstream('inventory').fetch('/orders', { method: 'POST', body: '{"n":1}' });
    expect(response.status).toBe(503);
    expect(up.requests).toHaveLength(1);
  });

  it('retries a POST that carries an Idempotency-Key, replaying its body', async () => {
    const up = await server();
    up.respond({ status: 503 }, { status: 201 });
    const m = mesh({ inventory: { endpoints: up.url } });
    const response = await m.upstream('inventory').fetch('/orders', {
      method: 'POST',
      headers: { 'idempotency-key': 'k-1' },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"n":'));
          controller.enqueue(new TextEncoder().encode('1}'));
          controller.close();
        },
      }),
    });
    expect(response.status).toBe(201);
    expect(up.requests.map((r) => r.body)).toEqual(['{"n":1}', '{"n":1}']);
  });

  it('retries a POST on an upstream marked idempotent', async () => {
    const up = await server();
    up.respond({ status: 503 }, { status: 200 });
    const m = mesh({ inventory: { endpoints: up.url, idempotent: true } });
    const response = await m.upstream('inventory').fetch('/', { method: 'POST', body: 'x' });
    expect(response.status).toBe(200);
    expect(up.requests).toHaveLength(2);
  });

  it('retries resets and 5xx under retryOn "5xx,reset"', async () => {
    const up = await server();
    up.respond({ reset: true }, { status: 500 }, { status: 200, body: 'third' });
    const m = mesh({
      inventory: {
        endpoints: up.url,
        retries: { attempts: 3, retryOn: '5xx,reset', backoff: { baseInterval: '1ms' } },
      },
    });
    const response = await m.upstream('inventory').fetch('/');
    expect(await response.text()).toBe('third');
    expect(up.requests).toHaveLength(3);
  });

  it('does not retry a reset under the default retryOn', async () => {
    const up = await server();
    up.respond({ reset: true });
    const m = mesh({ inventory: { endpoints: up.url } });
    await expect(m.upstream('inventory').fetch('/')).rejects.toMatchObject({
      code: 'SCL_ERR_UPSTREAM_RESET',
    });
    expect(up.requests).toHaveLength(1);
  });

  it('honours Retry-After on a 503', async () => {
    const up = await server();
    up.respond({ status: 503, headers: { 'retry-after': '1' } }, { status: 200 });
    const m = mesh({ inventory: { endpoints: up.url } });
    const started = Date.now();
    const response = await m.upstream('inventory').fetch('/');
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('fails a refused connection with a connect error after retrying it', async () => {
    const port = await refusedPort();
    const m = mesh({
      inventory: { endpoints: `http://127.0.0.1:${port}`, retries: { backoff: { baseInterval: '1ms' } } },
    });
    const retries = listen<{ reason: string }>('sidecarless:upstream:retry');
    await expect(m.upstream('inventory').fetch('/')).rejects.toMatchObject({
      code: 'SCL_ERR_UPSTREAM_CONNECT',
      status: 502,
    });
    retries.stop();
    expect(retries.messages.map((r) => r.reason)).toEqual([
      'SCL_ERR_UPSTREAM_CONNECT',
      'SCL_ERR_UPSTREAM_CONNECT',
    ]);
  });
});

describe('deadlines', () => {
  it('aborts slow headers at the whole-call timeout', async () => {
    const up = await server();
    up.respond({ delayHeadersMs: 2_000 });
    const m = mesh({ inventory: { endpoints: up.url, timeout: '150ms' } });
    const started = Date.now();
    await expect(m.upstream('inventory').fetch('/')).rejects.toMatchObject({
      code: 'SCL_ERR_UPSTREAM_TIMEOUT',
      status: 504,
    });
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('aborts a slow body at the timeout', async () => {
    const up = await server();
    up.respond({ delayBodyMs: 2_000 });
    const m = mesh({ inventory: { endpoints: up.url, timeout: '200ms' } });
    const response = await m.upstream('inventory').fetch('/');
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toMatchObject({ code: 'SCL_ERR_UPSTREAM_TIMEOUT' });
  });

  it('retries after a per-try timeout and stops retrying at the invocation deadline', async () => {
    const up = await server();
    up.fallback = { delayHeadersMs: 5_000 };
    const m = mesh({
      inventory: {
        endpoints: up.url,
        deadlineMargin: '50ms',
        retries: {
          attempts: 10,
          perTryTimeout: '200ms',
          retryOn: 'gateway-error',
          backoff: { baseInterval: '1ms' },
        },
      },
    });
    const started = Date.now();
    const response = await invoke(
      m,
      async (_request, ctx) => {
        const error = await ctx
          .upstream('inventory')
          .fetch('/')
          .catch((e: { code: string }) => e);
        return Response.json({ code: (error as { code?: string }).code, elapsed: Date.now() - started });
      },
      'http://localhost/',
      { timeout: '750ms' },
    );
    const result = (await response.json()) as { code: string; elapsed: number };
    // 700 ms of budget fits three 200 ms tries (two, if a loaded machine fires timers late); a
    // further try could not finish, so it never starts.
    expect(up.requests.length).toBeGreaterThanOrEqual(2);
    expect(up.requests.length).toBeLessThanOrEqual(3);
    expect(result.code).toBe('SCL_ERR_UPSTREAM_PER_TRY_TIMEOUT');
    expect(result.elapsed).toBeLessThan(750);
  });

  it('clamps the timeout to the invocation deadline minus the margin', async () => {
    const up = await server();
    up.fallback = { delayHeadersMs: 3_000 };
    const m = mesh({ inventory: { endpoints: up.url, timeout: '10s', deadlineMargin: '100ms' } });
    const response = await invoke(
      m,
      async (_request, ctx) => {
        const started = Date.now();
        const error = (await ctx
          .upstream('inventory')
          .fetch('/')
          .catch((e) => e)) as { code: string };
        return Response.json({ code: error.code, elapsed: Date.now() - started });
      },
      'http://localhost/',
      { timeout: '400ms' },
    );
    const result = (await response.json()) as { code: string; elapsed: number };
    expect(result.code).toBe('SCL_ERR_UPSTREAM_TIMEOUT');
    // Clamped to 400 − 100 ms, not the 10 s timeout, and over before the invocation's deadline.
    expect(result.elapsed).toBeGreaterThanOrEqual(250);
    expect(result.elapsed).toBeLessThan(400);
  });
});
