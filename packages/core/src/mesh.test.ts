import { captureLogs, resetColdStart } from '@sidecarless/testing';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { MeshContext } from './context.js';
import { InvocationContext } from './context.js';
import { ErrorCodes, SidecarlessError } from './errors.js';
import { invoke, invokeEvent } from './local.js';
import { createMesh, type Mesh } from './mesh.js';
import type { Stage } from './pipeline.js';

function meshWithLogs(extra: Parameters<typeof createMesh>[0] = {}) {
  const logs = captureLogs();
  const mesh = createMesh({
    service: 'orders',
    ...extra,
    logging: { destination: logs.destination, ...extra.logging },
  });
  return { mesh, logs };
}

describe('the invocation pipeline (local adapter)', () => {
  beforeEach(() => resetColdStart());

  it('hands the handler a standard Request and returns its Response', async () => {
    const { mesh } = meshWithLogs();
    const response = await invoke(
      mesh,
      async (request) => {
        expect(request).toBeInstanceOf(Request);
        return Response.json(
          { method: request.method, url: request.url, body: await request.json() },
          { status: 201 },
        );
      },
      new Request('http://localhost/orders?x=1', { method: 'POST', body: '{"qty":2}' }),
    );
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({
      method: 'POST',
      url: 'http://localhost/orders?x=1',
      body: { qty: 2 },
    });
  });

  it('fills the context with the invocation facts', async () => {
    const { mesh } = meshWithLogs();
    const seen: MeshContext[] = [];
    const handler = (_request: Request, ctx: MeshContext) => {
      seen.push(ctx);
      return new Response(null, { status: 204 });
    };
    const deadline = Date.now() + 5_000;
    await invoke(mesh, handler, 'http://localhost/a', { invocationId: 'req-1', deadline });
    await invoke(mesh, handler, 'http://localhost/b');
    expect(seen[0]).toMatchObject({
      invocationId: 'req-1',
      coldStart: true,
      deadline,
      platform: 'local',
      trigger: 'http',
    });
    expect(seen[0]!.service).toBe('orders');
    expect(seen[0]!.raw).toMatchObject({ request: expect.any(Request) });
    expect(seen[1]!.coldStart).toBe(false);
    expect(seen[1]!.invocationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]!.deadline).toBeGreaterThan(Date.now() + 25_000); // the mesh's default 30s timeout
  });

  it('counts the cold start once per process, not once per mesh', async () => {
    const first = meshWithLogs().mesh;
    const second = meshWithLogs().mesh;
    const cold: boolean[] = [];
    const handler = (_r: Request, ctx: MeshContext) => {
      cold.push(ctx.coldStart);
      return new Response('ok');
    };
    await invoke(first, handler, 'http://localhost/');
    await invoke(second, handler, 'http://localhost/');
    expect(cold).toEqual([true, false]);
  });

  it('aborts ctx.signal at the deadline minus the safety margin', async () => {
    const { mesh } = meshWithLogs({ invocation: { safetyMargin: '100ms' } });
    const started = Date.now();
    const response = await invoke(
      mesh,
      async (_request, ctx) => {
        const reason = await new Promise<unknown>((resolve) =>
          ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason)),
        );
        return Response.json({
          code: (reason as SidecarlessError).code,
          after: Date.now() - started,
          left: ctx.remainingTime(),
        });
      },
      'http://localhost/',
      { timeout: '300ms' },
    );
    const body = (await response.json()) as { code: string; after: number; left: number };
    expect(body.code).toBe(ErrorCodes.deadlineExceeded);
    expect(body.after).toBeGreaterThanOrEqual(190);
    expect(body.after).toBeLessThan(290);
    expect(body.left).toBeGreaterThan(0);
  });

  it('gives an already-aborted signal when the deadline has passed', async () => {
    const { mesh } = meshWithLogs({ invocation: { safetyMargin: 1000 } });
    const response = await invoke(
      mesh,
      (_r, ctx) => Response.json({ aborted: ctx.signal.aborted }),
      'http://localhost/',
      {
        timeout: '500ms',
      },
    );
    expect(await response.json()).toEqual({ aborted: true });
  });

  it('answers 504 when the handler outlives its deadline', async () => {
    const { mesh, logs } = meshWithLogs();
    const response = await invoke(mesh, () => new Promise<Response>(() => {}), 'http://localhost/', {
      timeout: 50,
    });
    expect(response.status).toBe(504);
    expect(await response.json()).toMatchObject({ status: 504, code: 'SCL_ERR_DEADLINE_EXCEEDED' });
    expect(logs.lines().filter((line) => line.code === 'SCL_ERR_DEADLINE_EXCEEDED')).toHaveLength(1);
  });

  it('turns an unexpected error into a 500 that leaks nothing, logged once', async () => {
    const { mesh, logs } = meshWithLogs();
    const response = await invoke(
      mesh,
      () => {
        throw new Error('db password hunter2 rejected');
      },
      'http://localhost/',
      { invocationId: 'inv-9' },
    );
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      code: 'SCL_ERR_INTERNAL',
      invocationId: 'inv-9',
    });
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('at ');
    const errors = logs.lines().filter((line) => line.level === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      msg: 'handler threw',
      invocation_id: 'inv-9',
      err: { message: 'db password hunter2 rejected' },
    });
  });

  it('maps a SidecarlessError to its status, exposed detail and headers', async () => {
    const { mesh } = meshWithLogs();
    const response = await invoke(
      mesh,
      () => {
        throw new SidecarlessError('SCL_ERR_JWT_MISSING', 'a bearer token is required', {
          status: 401,
          headers: { 'www-authenticate': 'Bearer' },
        });
      },
      'http://localhost/',
    );
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await response.json()).toMatchObject({
      code: 'SCL_ERR_JWT_MISSING',
      detail: 'a bearer token is required',
    });
  });

  it('hides the message of a 5xx SidecarlessError unless it is marked expose', async () => {
    const { mesh } = meshWithLogs();
    const hidden = await invoke(
      mesh,
      () => {
        throw new SidecarlessError('SCL_ERR_UPSTREAM', 'upstream 10.0.0.7 said no', { status: 502 });
      },
      'http://localhost/',
    );
    expect(hidden.status).toBe(502);
    expect(await hidden.json()).not.toHaveProperty('detail');
  });

  it('answers the same for a synchronous and an async handler, with and without a stage', async () => {
    const passThrough: Stage = { name: 'pass', http: (next) => (request, ctx) => next(request, ctx) };
    const sync = () => new Response('sync', { status: 201 });
    const async = async () => new Response('async', { status: 202 });
    const throwing = () => {
      throw new Error('sync failure');
    };
    for (const middleware of [[], [passThrough]]) {
      const { mesh, logs } = meshWithLogs({ middleware });
      const a = await invoke(mesh, sync, 'http://localhost/');
      expect([a.status, await a.text()]).toEqual([201, 'sync']);
      const b = await invoke(mesh, async, 'http://localhost/');
      expect([b.status, await b.text()]).toEqual([202, 'async']);
      const c = await invoke(mesh, throwing, 'http://localhost/');
      expect(c.status).toBe(500);
      expect(logs.lines().filter((line) => line.msg === 'handler threw')).toHaveLength(1);
      // A deadline already gone when the invocation starts is a 504, even for a handler that
      // answers at once.
      const d = await invoke(mesh, sync, 'http://localhost/', { deadline: Date.now() - 1 });
      expect(d.status).toBe(504);
    }
  });

  it('refuses a handler result that is not a Response', async () => {
    const { mesh, logs } = meshWithLogs();
    const handler = (() => ({ ok: true })) as unknown as () => Response;
    const response = await invoke(mesh, handler, 'http://localhost/');
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ code: 'SCL_ERR_INVALID_HANDLER_RESULT' });
    expect(logs.lines().find((line) => line.level === 'error')?.err).toMatchObject({
      message: expect.stringContaining('the handler returned a plain object'),
    });
  });

  it('runs middleware outermost first, around the handler', async () => {
    const order: string[] = [];
    const stage = (name: string): Stage => ({
      name,
      http: (next) =>
        async function tracedStage(request, ctx) {
          order.push(`${name}:in`);
          const response = await next(request, ctx);
          order.push(`${name}:out`);
          response.headers.append('x-stages', name);
          return response;
        },
    });
    const { mesh } = meshWithLogs({ middleware: [stage('a'), stage('b')] });
    const response = await invoke(
      mesh,
      () => {
        order.push('handler');
        return new Response('ok');
      },
      'http://localhost/',
    );
    expect(order).toEqual(['a:in', 'b:in', 'handler', 'b:out', 'a:out']);
    expect(response.headers.get('x-stages')).toBe('b, a');
  });

  it('lets a stage answer without calling the handler', async () => {
    let called = false;
    const deny: Stage = {
      name: 'deny',
      http: () => async () => {
        throw new SidecarlessError('SCL_ERR_DENIED', 'no', { status: 403 });
      },
    };
    const { mesh } = meshWithLogs({ middleware: [deny] });
    const response = await invoke(
      mesh,
      () => {
        called = true;
        return new Response('ok');
      },
      'http://localhost/',
    );
    expect(response.status).toBe(403);
    expect(called).toBe(false);
  });

  it('leaves event stages out of the HTTP chain and the other way round', async () => {
    const seen: string[] = [];
    const eventOnly: Stage = {
      name: 'event-only',
      event: (next) => async (event, ctx) => {
        seen.push('event-stage');
        return next(event, ctx);
      },
    };
    const { mesh } = meshWithLogs({ middleware: [eventOnly] });
    await invoke(mesh, () => new Response('ok'), 'http://localhost/');
    expect(seen).toEqual([]);
    expect(await invokeEvent(mesh, (event: { n: number }) => event.n * 2, { n: 21 })).toBe(42);
    expect(seen).toEqual(['event-stage']);
  });

  it('rethrows an event handler error after logging it once', async () => {
    const { mesh, logs } = meshWithLogs();
    const failure = new Error('poison message');
    await expect(
      invokeEvent(
        mesh,
        () => {
          throw failure;
        },
        {},
      ),
    ).rejects.toBe(failure);
    expect(logs.lines().filter((line) => line.level === 'error')).toHaveLength(1);
  });
});

describe('mesh.flush', () => {
  it('is bounded by its budget even when a flusher hangs', async () => {
    const { mesh } = meshWithLogs();
    const { onFlush } = await import('./adapter.js');
    let finished = false;
    onFlush(mesh, () => new Promise<void>(() => {}));
    onFlush(mesh, () => {
      finished = true;
    });
    const started = performance.now();
    await mesh.flush(80);
    const took = performance.now() - started;
    expect(finished).toBe(true);
    expect(took).toBeGreaterThanOrEqual(75);
    expect(took).toBeLessThan(1_000);
  });

  it('survives a flusher that throws', async () => {
    const { mesh } = meshWithLogs();
    const { onFlush, onClose } = await import('./adapter.js');
    let closed = false;
    onFlush(mesh, () => {
      throw new Error('exporter down');
    });
    onClose(mesh, () => {
      closed = true;
    });
    await expect(mesh.close(100)).resolves.toBeUndefined();
    expect(closed).toBe(true);
  });
});

describe('meshes are independent', () => {
  it('keeps options, loggers and pipelines apart', async () => {
    const a = meshWithLogs({ service: 'a' });
    const b = meshWithLogs({ service: 'b' });
    const handler = (_r: Request, ctx: MeshContext) => {
      ctx.log.info('hi');
      return new Response(ctx.service);
    };
    expect(await (await invoke(a.mesh, handler, 'http://localhost/')).text()).toBe('a');
    expect(await (await invoke(b.mesh, handler, 'http://localhost/')).text()).toBe('b');
    expect(a.logs.lines().map((l) => l.service)).toEqual(['a']);
    expect(b.logs.lines().map((l) => l.service)).toEqual(['b']);
  });

  it('refuses an object that is not a mesh', async () => {
    expect(() => invoke({} as Mesh, () => new Response(''), 'http://localhost/')).toThrow(/createMesh/);
  });
});

describe('upstreams without the outbound feature', () => {
  it('refuses an unconfigured upstream by name, inside and outside a handler', async () => {
    const { mesh } = meshWithLogs();
    const response = await invoke(
      mesh,
      (_r, ctx) => {
        ctx.upstream('inventory');
        return new Response('unreachable');
      },
      'http://localhost/',
    );
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ code: 'SCL_ERR_UNKNOWN_UPSTREAM' });
    await expect(mesh.upstream('inventory').fetch('/stock')).rejects.toThrow(
      'no upstream named "inventory"; configure it under upstreams.inventory in createMesh',
    );
  });

  it('leaves ctx.auth and ctx.peer empty when no identity was established', async () => {
    const { mesh } = meshWithLogs();
    const response = await invoke(
      mesh,
      (_r, ctx) => Response.json({ auth: ctx.auth ?? null, peer: ctx.peer ?? null }),
      'http://localhost/',
    );
    expect(await response.json()).toEqual({ auth: null, peer: null });
  });
});

describe('a handler still running when the mesh answers 504', () => {
  it('sees ctx.signal abort even with no safety margin', async () => {
    const { mesh } = meshWithLogs();
    let aborted: Promise<unknown> | undefined;
    const response = await invoke(
      mesh,
      (_request, ctx) => {
        aborted = new Promise((resolve) =>
          ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason)),
        );
        return new Promise<Response>(() => {});
      },
      'http://localhost/',
      { timeout: 40 },
    );
    expect(response.status).toBe(504);
    const reason = await Promise.race([
      aborted,
      new Promise((resolve) => setTimeout(() => resolve('never'), 500)),
    ]);
    expect(reason).toMatchObject({ code: 'SCL_ERR_DEADLINE_EXCEEDED' });
  });

  it('aborts the signal on dispose once the deadline has passed, even if its timer has not run', () => {
    // Which of two timers due in the same millisecond runs first is up to Node; fake time makes
    // the order explicit: the deadline passes, the signal timer has not fired, the mesh disposes.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const { mesh } = meshWithLogs();
      const host = {
        service: 's',
        log: mesh.log,
        timeoutMs: 100,
        safetyMarginMs: 0,
        upstreams: () => undefined,
        enter: () => {},
        leave: () => {},
      };
      const ctx = new InvocationContext({ platform: 'test' }, host);
      const signal = ctx.signal;
      vi.setSystemTime(Date.now() + 150);
      expect(signal.aborted).toBe(false);
      ctx.dispose();
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toMatchObject({ code: 'SCL_ERR_DEADLINE_EXCEEDED' });

      const early = new InvocationContext({ platform: 'test' }, host);
      const earlySignal = early.signal;
      early.dispose();
      expect(earlySignal.aborted).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe("the caller's deadline header", () => {
  const deadlineOf = (mesh: Mesh, header: string | undefined) =>
    invoke(
      mesh,
      (_request, ctx) => Response.json({ left: ctx.deadline - Date.now() }),
      new Request(
        'http://localhost/',
        header === undefined ? {} : { headers: { 'x-sidecarless-deadline-ms': header } },
      ),
    ).then(async (response) => ((await response.json()) as { left: number }).left);

  it('shortens the deadline to the budget a caller sent, when turned on', async () => {
    const { mesh } = meshWithLogs({ invocation: { timeout: '30s', callerDeadline: true } });
    const left = await deadlineOf(mesh, '1500');
    expect(left).toBeGreaterThan(1_000);
    expect(left).toBeLessThanOrEqual(1_500);
  });

  it('never lengthens the deadline, and ignores a malformed header', async () => {
    const { mesh } = meshWithLogs({ invocation: { timeout: '2s', callerDeadline: true } });
    expect(await deadlineOf(mesh, '99999999')).toBeLessThanOrEqual(2_000);
    for (const bad of ['-5', '1e3', '12.5', 'soon', ''])
      expect(await deadlineOf(mesh, bad)).toBeGreaterThan(1_500);
  });

  it('ignores the header unless invocation.callerDeadline is on', async () => {
    const { mesh } = meshWithLogs({ invocation: { timeout: '30s' } });
    expect(await deadlineOf(mesh, '1500')).toBeGreaterThan(25_000);
  });
});
