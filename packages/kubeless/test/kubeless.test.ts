/**
 * The Kubeless handler shape, served by the runtime stand-in from the testing package (the
 * archived runtime image cannot run here) on a real 127.0.0.1 server.
 */

import { auth } from '@sidecarless/auth';
import { createMesh } from '@sidecarless/core';
import { kubeless } from '@sidecarless/kubeless';
import { startKubelessRuntime } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';

const quiet = () => createMesh({ service: 'kubeless-test', logging: { level: 'silent' } });

describe('kubeless', () => {
  it('takes event-id as the invocation id and context.timeout as the deadline', async () => {
    const runtime = await startKubelessRuntime(
      kubeless(quiet(), (_request, ctx) =>
        Response.json({
          id: ctx.invocationId,
          left: ctx.remainingTime(),
          platform: ctx.platform,
          fn: ctx.raw.context['function-name'],
        }),
      ),
      { timeoutSeconds: 3, functionName: 'orders.main' },
    );
    try {
      const body = (await (await fetch(runtime.url, { headers: { 'event-id': 'evt-9' } })).json()) as Record<
        string,
        unknown
      >;
      expect(body).toMatchObject({ id: 'evt-9', platform: 'kubeless', fn: 'orders.main' });
      expect(body.left).toBeGreaterThan(2_000);
      expect(body.left).toBeLessThanOrEqual(3_000);
    } finally {
      await runtime.close();
    }
  });

  it('feeds source.ip from the runtime server socket, not from x-forwarded-for', async () => {
    for (const [block, expected] of [
      ['127.0.0.1/32', 200],
      ['10.0.0.0/8', 403],
    ] as const) {
      const mesh = createMesh(
        {
          service: 'kubeless-ip',
          logging: { level: 'silent' },
          auth: { policies: [{ rules: [{ from: [{ source: { ipBlocks: [block] } }] }] }] },
        },
        [auth],
      );
      const runtime = await startKubelessRuntime(
        kubeless(mesh, () => new Response('ok')),
        { timeoutSeconds: 3 },
      );
      try {
        const response = await fetch(runtime.url, { headers: { 'x-forwarded-for': '10.1.2.3' } });
        expect(response.status).toBe(expected);
        await response.body?.cancel();
      } finally {
        await runtime.close();
        await mesh.close();
      }
    }
  });

  it('answers 504 when the handler outlives the function timeout', async () => {
    const runtime = await startKubelessRuntime(
      kubeless(quiet(), async () => {
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        return new Response('late');
      }),
      { timeoutSeconds: 0.3 },
    );
    try {
      expect((await fetch(runtime.url)).status).toBe(504);
    } finally {
      await runtime.close();
    }
  });

  it('falls back to a text result when an older runtime gives no response object', async () => {
    const fn = kubeless(quiet(), async (request) => new Response(`echo ${await request.text()}`));
    const result = await fn({ data: 'hello', 'event-id': 'old-1' }, { timeout: '5' });
    expect(result).toBe('echo hello');
  });

  it('re-serialises parsed JSON data when the raw body is not available', async () => {
    const fn = kubeless(quiet(), async (request) => new Response(await request.text()));
    expect(await fn({ data: { a: 1 } }, {})).toBe('{"a":1}');
  });

  it('reads FUNC_TIMEOUT when the context has no timeout', async () => {
    const before = process.env.FUNC_TIMEOUT;
    process.env.FUNC_TIMEOUT = '7';
    try {
      const fn = kubeless(quiet(), (_request, ctx) => new Response(String(ctx.remainingTime())));
      const left = Number(await fn({ data: '' }, {}));
      expect(left).toBeGreaterThan(6_000);
      expect(left).toBeLessThanOrEqual(7_000);
    } finally {
      if (before === undefined) delete process.env.FUNC_TIMEOUT;
      else process.env.FUNC_TIMEOUT = before;
    }
  });

  it('refuses shutdown options it cannot use, naming the field and the fix', () => {
    const handler = () => new Response('x');
    expect(() => kubeless(quiet(), handler, { gracePeriod: '5 sec', shutdownSignals: false })).toThrow(
      /kubeless\.gracePeriod: "5 sec" is not a duration; use "10s" or 10000/,
    );
    expect(() => kubeless(quiet(), handler, { grace: '5s' } as never)).toThrow(
      /kubeless\.grace: unknown option/,
    );
  });
});
