/**
 * Memory across warm invocations: 5,000 invocations through `lambda()` must not grow the heap
 * (after a full GC) by more than a few hundred bytes per invocation. The long version (50,000
 * invocations) is bench/reliability.bench.ts.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMesh } from '@sidecarless/core';
import { lambdaContext, lambdaEvent } from '@sidecarless/testing';
import { expect, it } from 'vitest';
import { lambda } from '../src/index.js';

// vitest's workers run without --expose-gc: switch it on, and take `gc` from a fresh context.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

it('keeps the heap flat over 5,000 warm invocations', async () => {
  const mesh = createMesh({ service: 'memory', logging: { level: 'silent' } });
  const handler = lambda(mesh, async (request) => Response.json({ path: new URL(request.url).pathname }));
  const event = lambdaEvent('apigw-http-v2.json');
  const run = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const result = (await handler(structuredClone(event), lambdaContext())) as { statusCode: number };
      expect(result.statusCode).toBe(200);
    }
  };
  await run(1_000); // warm: caches, JIT
  gc();
  const before = process.memoryUsage().heapUsed;
  await run(5_000);
  gc();
  const growth = process.memoryUsage().heapUsed - before;
  // A leak of one small object per invocation would be ≥ 5,000 × 100 B; allow 1 MB of noise.
  expect(growth, `heap grew ${growth} bytes over 5,000 invocations`).toBeLessThan(1_048_576);
  await mesh.close(100);
}, 60_000);
