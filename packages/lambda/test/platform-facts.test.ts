import { createMesh, type LogDestination } from '@sidecarless/core';
import { onFlush } from '@sidecarless/core/adapter';
import { lambdaContext, lambdaEvent, resetColdStart } from '@sidecarless/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adaptiveSafetyMargin, lambda } from '../src/index.js';

const silent = { level: 'silent' } as const;

beforeEach(() => resetColdStart());
afterEach(() => {
  delete process.env._X_AMZN_TRACE_ID;
});

describe('platform facts', () => {
  it('sets the invocation id, deadline and cold start from Lambda', async () => {
    const mesh = createMesh({ service: 'facts', logging: silent });
    const facts: { id: string; deadline: number; cold: boolean; remaining: number }[] = [];
    const handler = lambda.event(mesh, async (_event, ctx) => {
      facts.push({
        id: ctx.invocationId,
        deadline: ctx.deadline,
        cold: ctx.coldStart,
        remaining: ctx.remainingTime(),
      });
    });
    const before = Date.now();
    await handler({}, lambdaContext({ remainingMs: 5_000, requestId: 'first' }));
    await handler({}, lambdaContext({ remainingMs: 5_000, requestId: 'second' }));
    expect(facts.map((fact) => fact.id)).toEqual(['first', 'second']);
    expect(facts.map((fact) => fact.cold)).toEqual([true, false]);
    expect(facts[0]!.deadline).toBeGreaterThanOrEqual(before + 5_000 - 5);
    expect(facts[0]!.deadline).toBeLessThanOrEqual(Date.now() + 5_000);
    expect(facts[0]!.remaining).toBeGreaterThan(4_800);
  });

  it('marks every record of the first batch cold, and none of the next', async () => {
    const mesh = createMesh({ service: 'facts', logging: silent });
    const colds: boolean[][] = [[], []];
    let round = 0;
    const handler = lambda.sqs(mesh, async (_record, ctx) => {
      colds[round]!.push(ctx.coldStart);
    });
    const [record] = lambdaEvent<{ Records: Record<string, unknown>[] }>('sqs.json').Records;
    const batch = { Records: ['m1', 'm2', 'm3'].map((messageId) => ({ ...record, messageId })) };
    await handler(batch, lambdaContext({ requestId: 'first' }));
    round = 1;
    await handler(batch, lambdaContext({ requestId: 'second' }));
    expect(colds).toEqual([
      [true, true, true],
      [false, false, false],
    ]);
  });

  it('fires ctx.signal the safety margin before the deadline', async () => {
    const mesh = createMesh({ service: 'facts', logging: silent });
    const handler = lambda.event(
      mesh,
      async (_event, ctx) => {
        const started = Date.now();
        await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
        return {
          waited: Date.now() - started,
          left: ctx.remainingTime(),
          code: (ctx.signal.reason as { code: string }).code,
        };
      },
      { safetyMargin: '150ms' },
    );
    const result = (await handler({}, lambdaContext({ remainingMs: 250 }))) as {
      waited: number;
      left: number;
      code: string;
    };
    expect(result.code).toBe('SCL_ERR_DEADLINE_EXCEEDED');
    // 250 ms left, 150 ms margin: fires after ~100 ms, never at (or after) the deadline. The
    // bounds allow for timers running late on a busy machine.
    expect(result.waited).toBeGreaterThanOrEqual(80);
    expect(result.left).toBeGreaterThan(0);
    expect(result.left).toBeLessThanOrEqual(150);
  });

  it('uses the mesh safety margin when set, else an adaptive one', async () => {
    expect(adaptiveSafetyMargin(3_000)).toBe(300);
    expect(adaptiveSafetyMargin(900_000)).toBe(500);
    expect(adaptiveSafetyMargin(100)).toBe(50);
    const mesh = createMesh({ service: 'facts', logging: silent, invocation: { safetyMargin: 1_000 } });
    const handler = lambda.event(mesh, async (_event, ctx) => {
      const aborted = ctx.signal.aborted;
      return aborted;
    });
    // 900 ms left is inside the mesh's 1 s margin: the signal has already fired.
    expect(await handler({}, lambdaContext({ remainingMs: 900 }))).toBe(true);
    expect(await handler({}, lambdaContext({ remainingMs: 3_000 }))).toBe(false);
  });

  it('keeps the X-Ray trace header for tracing, from the context or _X_AMZN_TRACE_ID', async () => {
    const mesh = createMesh({ service: 'facts', logging: silent });
    const handler = lambda.event(mesh, async (_event, ctx) => ctx.raw.xrayTraceId);
    const fromContext = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    expect(await handler({}, lambdaContext({ traceId: fromContext }))).toBe(fromContext);
    process.env._X_AMZN_TRACE_ID =
      'Root=1-67891233-abcdef012345678912345678;Parent=0123456789abcdef;Sampled=0';
    expect(await handler({}, lambdaContext())).toBe(process.env._X_AMZN_TRACE_ID);
  });
});

describe('flush', () => {
  it('flushes buffered work before the result is returned', async () => {
    const mesh = createMesh({ service: 'flush', logging: silent });
    const order: string[] = [];
    onFlush(mesh, async () => {
      await new Promise((resolve) => setTimeout(resolve, 10));
      order.push('flushed');
    });
    const handler = lambda(mesh, async () => {
      order.push('handled');
      return new Response('ok');
    });
    await handler(lambdaEvent('apigw-http-v2.json'), lambdaContext());
    order.push('returned');
    expect(order).toEqual(['handled', 'flushed', 'returned']);
  });

  it('flushes after an event handler throws too', async () => {
    const mesh = createMesh({ service: 'flush', logging: silent });
    let flushed = 0;
    onFlush(mesh, () => {
      flushed++;
    });
    const handler = lambda.event(mesh, async () => {
      throw new Error('boom');
    });
    await expect(handler({}, lambdaContext())).rejects.toThrow('boom');
    expect(flushed).toBe(1);
  });

  it('never waits past the time Lambda has left', async () => {
    const mesh = createMesh({ service: 'flush', logging: silent });
    onFlush(mesh, () => new Promise<void>(() => {}));
    const handler = lambda(mesh, async () => new Response('ok'));
    const started = Date.now();
    const result = await handler(lambdaEvent('apigw-http-v2.json'), lambdaContext({ remainingMs: 120 }));
    expect(Date.now() - started).toBeLessThan(400);
    expect(result).toMatchObject({ statusCode: 200 });
  });

  it('writes the log lines of the invocation before returning', async () => {
    const lines: string[] = [];
    const destination: LogDestination = { write: (line: string) => lines.push(line) };
    const mesh = createMesh({ service: 'flush', logging: { level: 'info', destination } });
    const handler = lambda(mesh, async (_request, ctx) => {
      ctx.log.info('inside');
      return new Response('ok');
    });
    await handler(lambdaEvent('apigw-http-v2.json'), lambdaContext({ requestId: 'log-req' }));
    const line = JSON.parse(lines.find((text) => text.includes('inside'))!) as Record<string, unknown>;
    expect(line).toMatchObject({ invocation_id: 'log-req', platform: 'aws-lambda' });
  });
});
