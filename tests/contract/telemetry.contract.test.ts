/**
 * Tracing, the same on every adapter: the contract function runs with tracing to a real
 * OTLP/HTTP receiver on 127.0.0.1, and every request becomes exactly one SERVER span with the
 * right `faas.trigger` and invocation id — exported by the time the adapter has stopped (Lambda
 * flushes per invocation; the servers flush on close or SIGTERM).
 */
import type { MeshOptions } from '@sidecarless/core';
import { type OtlpReceiver, OtlpSpanKind, startOtlpReceiver } from '@sidecarless/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters } from './adapters/index.ts';
import { startWithMeshOptions } from './harness.ts';

const base = 'http://contract.test';
let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});

describe.each(adapters)('telemetry contract on $name', (adapter) => {
  it('exports one SERVER span per request with the invocation id and faas.trigger http', async () => {
    const options: Partial<MeshOptions> = {
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
    };
    const fn = await startWithMeshOptions(adapter, options);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const response = await fn.send(new Request(`${base}/facts?n=${i}`));
        expect(response.status).toBe(200);
        ids.push(((await response.json()) as { invocationId: string }).invocationId);
      }
    } finally {
      await fn.stop();
    }
    const spans = receiver.spans.filter((span) =>
      ids.includes(span.attributes['faas.invocation_id'] as string),
    );
    expect(spans.map((span) => span.attributes['faas.invocation_id']).sort()).toEqual([...ids].sort());
    for (const span of spans) {
      expect(span.kind).toBe(OtlpSpanKind.server);
      expect(span.attributes['faas.trigger']).toBe('http');
      expect(span.resource['service.name']).toBe('contract');
    }
  });
});
