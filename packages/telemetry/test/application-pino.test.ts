/**
 * With the application's pino (`logging.logger`), the telemetry feature's lines are its lines
 * too: the access line and the trace ids on `ctx.log`, through the real pino.
 */
import { createMesh, json } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { startOtlpReceiver } from '@sidecarless/testing';
import pino from 'pino';
import { expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

it('writes the access line and trace ids through the application pino', async () => {
  const receiver = await startOtlpReceiver();
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { base: { app: 'shop' } },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  );
  const mesh = createMesh(
    {
      service: 'orders',
      logging: { logger },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
    },
    [telemetry],
  );
  try {
    await invoke(
      mesh,
      async (_request, ctx) => {
        ctx.log.info('handling');
        return json({ ok: true });
      },
      'http://localhost/orders?token=abc',
    );
    await mesh.flush();
    const handling = lines.find((line) => line.msg === 'handling')!;
    expect(handling).toMatchObject({ app: 'shop', service: 'orders', level: 30 });
    expect(handling.trace_id).toMatch(/^[0-9a-f]{32}$/);
    const access = lines.find((line) => line.msg === 'access')!;
    expect(access).toMatchObject({
      app: 'shop',
      service: 'orders',
      level: 30,
      method: 'GET',
      path: '/orders',
      status: 200,
      platform: 'local',
      trace_id: handling.trace_id,
    });
    expect(JSON.stringify(access)).not.toContain('abc');
  } finally {
    await mesh.close();
    await receiver.close();
  }
});
