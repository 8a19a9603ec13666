import { describe, expect, it } from 'vitest';
import { prepareEvent } from './adapter.js';
import { createMesh } from './mesh.js';

describe('InvocationFacts.safetyMarginMs', () => {
  it('overrides the mesh margin for one invocation', async () => {
    const mesh = createMesh({ service: 's', logging: { level: 'silent' }, invocation: { safetyMargin: 50 } });
    const run = prepareEvent(mesh, async (_event: unknown, ctx) => ctx.signal.aborted);
    const deadline = Date.now() + 1_000;
    expect(await run({}, { platform: 'test', deadline })).toBe(false);
    expect(await run({}, { platform: 'test', deadline, safetyMarginMs: 2_000 })).toBe(true);
  });

  it('leaves the mesh margin in place when absent', async () => {
    const mesh = createMesh({
      service: 's',
      logging: { level: 'silent' },
      invocation: { safetyMargin: 2_000 },
    });
    const run = prepareEvent(mesh, async (_event: unknown, ctx) => ctx.signal.aborted);
    expect(await run({}, { platform: 'test', deadline: Date.now() + 1_000 })).toBe(true);
  });
});
