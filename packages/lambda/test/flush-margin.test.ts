/**
 * The safety margin sized from measured flushes: when flushing takes longer than the adaptive
 * margin allows for, a timed-out invocation keeps back enough time to flush its span and log
 * before the platform kills it. The flush here is a real registered flusher that takes 150 ms;
 * the margin is read where it acts: when `ctx.signal` aborts, before the platform's deadline.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createMesh } from '@sidecarless/core';
import { onFlush } from '@sidecarless/core/adapter';
import { telemetry } from '@sidecarless/telemetry';
import { lambdaContext, lambdaEvent } from '@sidecarless/testing';
import { expect, it } from 'vitest';
import { adaptiveSafetyMargin, flushAllowance, lambda } from '../src/index.js';

it('keeps back the measured flush time, not a fixed tenth of the invocation', async () => {
  const mesh = createMesh({ service: 'margin', logging: { level: 'silent' } });
  onFlush(mesh, () => sleep(150));
  const keptBack: number[] = [];
  let platformDeadline = 0;
  const handler = lambda(mesh, async (_request, ctx) => {
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
    keptBack.push(platformDeadline - Date.now());
    return new Response('late');
  });
  expect(adaptiveSafetyMargin(1_000)).toBe(100); // less than the 150 ms the flush takes
  for (let i = 0; i < 3; i++) {
    platformDeadline = Date.now() + 1_000;
    await handler(lambdaEvent('apigw-http-v2.json'), lambdaContext({ remainingMs: 1_000 }));
  }
  // Nothing measured before the first invocation: the adaptive 100 ms (timer slack allowed).
  expect(keptBack[0]).toBeGreaterThan(60);
  expect(keptBack[0]).toBeLessThan(140);
  // Then the flushes' 150 ms × 1.5 + 10.
  expect(keptBack[2]).toBeGreaterThan(150 * 1.5 - 30);
  expect(flushAllowance(1_000)).toBeGreaterThanOrEqual(235);
  expect(flushAllowance(1_000)).toBeLessThan(300);
  // Never more than half of what the invocation has.
  expect(flushAllowance(200)).toBe(100);
  await mesh.close(100);
}, 15_000);

it('ends and exports a timed-out span before the kill once flushes are measured slow', async () => {
  // A collector that takes 150 ms per export: longer than the watchdog's default 100 ms margin.
  const exportedAt: number[] = [];
  const slowExporter = {
    export(_spans: unknown[], done: (result: { code: number }) => void) {
      setTimeout(() => {
        exportedAt.push(Date.now());
        done({ code: 0 });
      }, 150);
    },
    shutdown: () => Promise.resolve(),
  };
  const mesh = createMesh(
    {
      service: 'watchdog',
      logging: { level: 'silent' },
      telemetry: { tracing: { exporter: slowExporter as never } },
    },
    [telemetry],
  );
  const handler = lambda(mesh, () => sleep(1_100).then(() => new Response('too late')));
  const deadlines: number[] = [];
  for (let i = 0; i < 3; i++) {
    const deadline = Date.now() + 1_000;
    deadlines.push(deadline);
    // The platform would kill the environment at the deadline; the handler runs past it here.
    await handler(lambdaEvent('apigw-http-v2.json'), lambdaContext({ remainingMs: 1_000 }));
  }
  const onTime = deadlines.map((deadline, i) => (exportedAt[i] ?? Number.POSITIVE_INFINITY) <= deadline);
  expect(onTime[0], 'nothing measured yet: the 100 ms margin is too short for a 150 ms export').toBe(false);
  expect(onTime[2], `export ${exportedAt[2]! - deadlines[2]!} ms after the deadline`).toBe(true);
  await mesh.close(100);
}, 15_000);
