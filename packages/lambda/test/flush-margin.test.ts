/**
 * The safety margin sized from measured flushes: when flushing takes longer than the adaptive
 * margin allows for, a timed-out invocation keeps back enough time to flush its span and log
 * before the platform kills it. The flush here is a real registered flusher that takes 150 ms;
 * the margin is read where it acts: when `ctx.signal` aborts, before the platform's deadline.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createMesh } from '@sidecarless/core';
import { onFlush } from '@sidecarless/core/adapter';
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
