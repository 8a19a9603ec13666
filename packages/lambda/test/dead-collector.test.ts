/**
 * A dead OTLP collector must not tax every invocation. Black-holed (accepts TCP, never answers)
 * it once added the whole export timeout to each Lambda invocation; refused, a connect error.
 * After the first failed export the span batcher's breaker stops waiting on it: the target is
 * ≤ 50 ms added to any invocation after the first. Real servers on 127.0.0.1; the handler runs
 * through `lambda()` as the runtime calls it.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { createMesh } from '@sidecarless/core';
import { telemetry } from '@sidecarless/telemetry';
import { freePort, lambdaContext, lambdaEvent, startOtlpReceiver } from '@sidecarless/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { lambda } from '../src/index.js';

const exportTimeout = 1_000;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A TCP server that accepts connections and never answers. */
async function blackHole(): Promise<string> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}/v1/traces`;
}

async function invocationTimes(endpoint: string, count: number, gapMs = 0): Promise<number[]> {
  const mesh = createMesh(
    {
      service: 'dead-collector',
      logging: { level: 'silent' },
      telemetry: { tracing: { exporter: 'otlp', endpoint, exportTimeout: `${exportTimeout}ms` } },
    },
    [telemetry],
  );
  cleanups.push(() => mesh.close(100));
  const handler = lambda(mesh, async () => new Response('ok'));
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const result = (await handler(lambdaEvent('apigw-http-v2.json'), lambdaContext())) as {
      statusCode: number;
    };
    times.push(performance.now() - started);
    expect(result.statusCode).toBe(200);
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return times;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('a dead OTLP collector', () => {
  it('black-holed: only the first invocation waits for the export timeout', async () => {
    // Spaced over ~3 s, so the breaker's cool-down (1 s, then 2 s) ends and probes are sent.
    const times = await invocationTimes(await blackHole(), 30, 70);
    expect(times[0]!).toBeGreaterThan(exportTimeout * 0.8);
    const later = times.slice(1);
    expect(median(later), `later invocations: ${later.map((t) => t.toFixed(1)).join(', ')}`).toBeLessThan(50);
    // A probe waits at most 50 ms; scheduling on a loaded machine gets some slack.
    expect(Math.max(...later)).toBeLessThan(150);
  }, 20_000);

  it('refused: later invocations pay nothing noticeable', async () => {
    const port = await freePort();
    const times = await invocationTimes(`http://127.0.0.1:${port}/v1/traces`, 30);
    const later = times.slice(1);
    expect(median(later)).toBeLessThan(50);
    expect(Math.max(...later)).toBeLessThan(150);
  }, 20_000);

  it('a live collector gets every span, with the breaker closed', async () => {
    const receiver = await startOtlpReceiver();
    cleanups.push(() => receiver.close());
    await invocationTimes(receiver.url, 10);
    await receiver.waitForSpans(10, 2_000);
    expect(receiver.spans).toHaveLength(10);
  }, 20_000);
});
