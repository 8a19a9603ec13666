import { createServer } from 'node:net';
import { createMesh, type HttpHandler, type Stage } from '@sidecarless/core';
import { invoke, invokeEvent } from '@sidecarless/core/local';
import { captureLogs, freePort, resetColdStart } from '@sidecarless/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

const closers: Array<() => Promise<void>> = [];
beforeEach(() => resetColdStart());
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** Stands in for the authentication stage, which sets ctx.auth (it is built in another issue). */
const fakeAuth: Stage = {
  name: 'test-auth',
  http: (next) => async (request, ctx) => {
    (ctx as { auth: unknown }).auth = {
      principal: 'user:alice',
      issuer: 'i',
      subject: 'alice',
      audiences: [],
      claims: {},
    };
    if (request.headers.get('authorization') === 'Bearer nope') {
      ctx.telemetry?.authDenied('invalid_token');
      return new Response('denied', { status: 401 });
    }
    return next(request, ctx);
  },
};

describe('telemetry metrics and logs', () => {
  it('writes one access line per invocation with the principal and never the token', async () => {
    const logs = captureLogs();
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        middleware: [fakeAuth],
        telemetry: {},
      },
      [telemetry],
    );
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA';
    const response = await invoke(
      mesh,
      () => new Response('ok', { status: 202 }),
      new Request(`http://localhost/orders?access_token=${token}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, cookie: 'session=abc' },
      }),
    );
    expect(response.status).toBe(202);
    const access = logs.withMessage('access');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      level: 'info',
      method: 'PUT',
      path: '/orders',
      status: 202,
      principal: 'user:alice',
      service: 'orders',
      platform: 'local',
      cold_start: true,
    });
    expect(typeof access[0]!.duration_ms).toBe('number');
    expect(access[0]!.trace_id).toBeUndefined(); // no tracing configured: no ids to correlate
    expect(logs.raw.join('')).not.toContain(token);
    expect(logs.raw.join('')).not.toContain('session=abc');
  });

  it('writes one CloudWatch EMF line per invocation, synchronously', async () => {
    const logs = captureLogs();
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        telemetry: { metrics: { exporter: 'emf', namespace: 'Shop' }, logging: { accessLog: false } },
      },
      [telemetry],
    );
    await invoke(mesh, () => new Response('ok'), 'http://localhost/a');
    await expect(
      invokeEvent(
        mesh,
        () => {
          throw new Error('bad message');
        },
        {},
      ),
    ).rejects.toThrow('bad message');
    const emf = logs.lines().filter((line) => '_aws' in line);
    expect(emf).toHaveLength(2);
    expect(emf[0]).toMatchObject({
      function: 'orders',
      trigger: 'http',
      serverless_function_invocations_total: 1,
      serverless_function_errors_total: 0,
      serverless_function_cold_starts_total: 1,
    });
    expect(emf[1]).toMatchObject({
      trigger: 'other',
      serverless_function_errors_total: 1,
      serverless_function_cold_starts_total: 0,
    });
  });

  it('serves the invocation, upstream and auth metrics on its own port, on loopback by default', async () => {
    const port = await freePort();
    const logs = captureLogs();
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        middleware: [fakeAuth],
        telemetry: { metrics: { exporter: 'prometheus', port } },
      },
      [telemetry],
    );
    closers.push(() => mesh.close());
    const handler: HttpHandler = (_request, ctx) => {
      const url = new URL('http://inventory.local/items');
      const first = ctx.telemetry!.startClientSpan({ upstream: 'inventory', method: 'GET', url, attempt: 0 });
      first.end({ error: Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }) });
      ctx.telemetry!.upstreamRetry('inventory');
      const second = ctx.telemetry!.startClientSpan({
        upstream: 'inventory',
        method: 'GET',
        url,
        attempt: 1,
      });
      second.end({ status: 200 });
      second.end({ status: 200 }); // ending twice counts once
      ctx.telemetry!.circuitState('payments', true);
      ctx.telemetry!.upstreamEjection('inventory');
      return new Response('ok');
    };
    await invoke(mesh, handler, 'http://localhost/');
    await invoke(
      mesh,
      handler,
      new Request('http://localhost/', { headers: { authorization: 'Bearer nope' } }),
    );

    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain(
      'serverless_function_invocations_total{function="orders",platform="local",trigger="http"} 2\n',
    );
    expect(text).toContain(
      'serverless_function_errors_total{function="orders",platform="local",trigger="http"} 0\n',
    );
    expect(text).toContain(
      'serverless_upstream_requests_total{function="orders",upstream="inventory",code="ECONNREFUSED"} 1\n',
    );
    expect(text).toContain(
      'serverless_upstream_requests_total{function="orders",upstream="inventory",code="200"} 1\n',
    );
    expect(text).toContain('serverless_upstream_retries_total{function="orders",upstream="inventory"} 1\n');
    expect(text).toContain('serverless_upstream_circuit_open{function="orders",upstream="payments"} 1\n');
    expect(text).toContain('serverless_upstream_ejections_total{function="orders",upstream="inventory"} 1\n');
    expect(text).toContain('serverless_auth_denied_total{function="orders",reason="invalid_token"} 1\n');
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });

  it('fails ready() with a clear error when the metrics port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    closers.push(() => new Promise((resolve) => blocker.close(() => resolve())));
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { level: 'silent' },
        telemetry: { metrics: { exporter: 'prometheus', port } },
      },
      [telemetry],
    );
    await expect(mesh.ready()).rejects.toThrow(`telemetry.metrics: cannot listen on 127.0.0.1:${port}`);
  });

  it('leaves ctx.telemetry undefined when telemetry is not configured', async () => {
    const mesh = createMesh({ service: 'plain', logging: { level: 'silent' } });
    const response = await invoke(
      mesh,
      (_request, ctx) => Response.json({ telemetry: ctx.telemetry === undefined }),
      'http://localhost/',
    );
    expect(await response.json()).toEqual({ telemetry: true });
  });
});
