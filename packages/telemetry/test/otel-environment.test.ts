/**
 * The standard OpenTelemetry environment, end to end: the resource a real OTLP receiver gets
 * carries OTEL_RESOURCE_ATTRIBUTES and the platform's cloud.* / faas.* facts, and
 * OTEL_TRACES_SAMPLER=always_off sends nothing.
 */
import { createMesh, json } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { startOtlpReceiver } from '@sidecarless/testing';
import { afterEach, expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

it('puts the platform facts and OTEL_RESOURCE_ATTRIBUTES on every span’s resource', async () => {
  const receiver = await startOtlpReceiver();
  Object.assign(process.env, {
    K_SERVICE: 'inventory',
    K_REVISION: 'inventory-00003',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging',
  });
  const mesh = createMesh(
    {
      service: 'inventory',
      logging: { level: 'silent' },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
    },
    [telemetry],
  );
  try {
    await invoke(mesh, async () => json({ ok: true }), 'http://localhost/stock/1');
    await mesh.flush();
    expect(receiver.spans).toHaveLength(1);
    expect(receiver.spans[0]!.resource).toMatchObject({
      'service.name': 'inventory',
      'faas.name': 'inventory',
      'faas.version': 'inventory-00003',
      'deployment.environment.name': 'staging',
    });
  } finally {
    await mesh.close();
    await receiver.close();
  }
});

it('sends no spans under OTEL_TRACES_SAMPLER=always_off', async () => {
  const receiver = await startOtlpReceiver();
  process.env.OTEL_TRACES_SAMPLER = 'always_off';
  const mesh = createMesh(
    {
      service: 'inventory',
      logging: { level: 'silent' },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
    },
    [telemetry],
  );
  try {
    for (let i = 0; i < 5; i++)
      await invoke(mesh, async () => json({ ok: true }), 'http://localhost/stock/1');
    await mesh.flush();
    expect(receiver.spans).toEqual([]);
  } finally {
    await mesh.close();
    await receiver.close();
  }
});
