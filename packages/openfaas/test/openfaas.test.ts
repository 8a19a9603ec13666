/**
 * OpenFaaS end to end: functions run as real child processes behind the of-watchdog stand-in
 * (HTTP mode), as on a cluster; the classic template shape runs in-process too.
 */
import { fileURLToPath } from 'node:url';
import { createMesh } from '@sidecarless/core';
import { openfaas } from '@sidecarless/openfaas';
import { OtlpSpanKind, type RunningWatchdog, startOtlpReceiver, startWatchdog } from '@sidecarless/testing';
import { afterEach, describe, expect, it } from 'vitest';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const watchdogs: RunningWatchdog[] = [];
afterEach(async () => {
  await Promise.all(watchdogs.splice(0).map((watchdog) => watchdog.close()));
});

async function slowFunction(execTimeout = '5s'): Promise<RunningWatchdog> {
  const watchdog = await startWatchdog({
    command: process.execPath,
    args: [fixture('slow-function.ts')],
    execTimeout,
  });
  watchdogs.push(watchdog);
  return watchdog;
}

describe('openfaas behind the watchdog', () => {
  it('reaches the handler on any path and carries X-Call-Id into ctx.invocationId', async () => {
    const watchdog = await slowFunction();
    const response = await fetch(`${watchdog.url}/any/path`, {
      method: 'DELETE',
      headers: { 'x-call-id': 'call-42' },
    });
    expect(await response.json()).toMatchObject({ path: '/any/path', id: 'call-42' });
  });

  it('answers the watchdog health check', async () => {
    const watchdog = await slowFunction();
    const health = await fetch(`${watchdog.url}/_/health`);
    expect(health.status).toBe(200);
  });

  it('bounds the deadline by exec_timeout and by a shorter X-Timeout', async () => {
    const watchdog = await slowFunction('3s');
    const plain = (await (await fetch(`${watchdog.url}/`)).json()) as { left: number };
    expect(plain.left).toBeGreaterThan(1_500);
    expect(plain.left).toBeLessThanOrEqual(3_000);
    const bounded = (await (await fetch(`${watchdog.url}/`, { headers: { 'x-timeout': '1s' } })).json()) as {
      left: number;
    };
    expect(bounded.left).toBeLessThanOrEqual(1_000);
  });

  it('lets the watchdog answer 504 when the function outlives exec_timeout', async () => {
    const watchdog = await slowFunction('500ms');
    const response = await fetch(`${watchdog.url}/slow?ms=3000`);
    expect(response.status).toBe(504);
  });

  it('drains on SIGTERM: every in-flight request is answered, the mesh flushes, the process exits 0', async () => {
    const watchdog = await slowFunction('10s');
    const inFlight = Array.from({ length: 8 }, (_, i) =>
      fetch(`${watchdog.url}/slow?ms=600`, { headers: { 'x-call-id': `drain-${i}` } }).then(
        async (response) => `${response.status} ${((await response.json()) as { id: string }).id}`,
        (error: Error) => `dropped: ${error.message}`,
      ),
    );
    // SIGTERM only once all eight are inside the handler: requests that arrive after it are
    // refused by design, and this test is about the ones already in flight.
    while ((watchdog.output().stdout.match(/^started /gm) ?? []).length < 8) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const exitCode = await watchdog.terminate();
    expect(await Promise.all(inFlight)).toEqual(Array.from({ length: 8 }, (_, i) => `200 drain-${i}`));
    expect(exitCode).toBe(0);
    expect(watchdog.output().stdout).toContain('flushed');
  });

  it('loses no span on SIGTERM: every in-flight request is exported to the OTLP receiver before exit', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const watchdog = await startWatchdog({
        command: process.execPath,
        args: [fixture('traced-function.ts')],
        execTimeout: '10s',
        env: { TEST_OTLP_URL: receiver.url, OPENFAAS_NAME: 'orders', HOSTNAME: 'orders-7d9f-abcde' },
      });
      watchdogs.push(watchdog);
      const inFlight = Array.from({ length: 8 }, (_, i) =>
        fetch(`${watchdog.url}/slow?ms=1500`, { headers: { 'x-call-id': `term-${i}` } }).then(
          (r) => r.status,
        ),
      );
      while ((watchdog.output().stdout.match(/^started /gm) ?? []).length < 8) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      // The spans end as the drain ends, well inside the batch processor's 1 s export delay: only
      // the flush on SIGTERM can get them out before the process exits.
      expect(receiver.spans).toHaveLength(0);
      expect(await watchdog.terminate()).toBe(0);
      expect(await Promise.all(inFlight)).toEqual(Array(8).fill(200));
      const ids = receiver.spans.map((span) => span.attributes['faas.invocation_id']).sort();
      expect(ids).toEqual(Array.from({ length: 8 }, (_, i) => `term-${i}`));
      for (const span of receiver.spans) {
        expect(span.kind).toBe(OtlpSpanKind.server);
        expect(span.attributes).toMatchObject({
          'faas.trigger': 'http',
          'faas.name': 'orders',
          'faas.instance': 'orders-7d9f-abcde',
        });
      }
    } finally {
      await receiver.close();
    }
  });

  it('runs a CommonJS stock-template handler required with require(esm) turned off', async () => {
    const watchdog = await startWatchdog({
      command: process.execPath,
      args: ['--no-experimental-require-module', fixture('classic-handler.cjs')],
    });
    watchdogs.push(watchdog);
    const response = await fetch(`${watchdog.url}/orders?id=7`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"qty":2}',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-template')).toBe('classic');
    expect(await response.json()).toEqual({
      method: 'POST',
      path: '/orders',
      query: { id: '7' },
      body: { qty: 2 },
      format: 'object',
    });
    const failed = await fetch(`${watchdog.url}/fail`);
    expect(failed.status).toBe(500);
    expect(await failed.text()).not.toContain('hunter2');
  });
});

describe('openfaas.classic', () => {
  it('gives the template event text for text/* and bytes for other types, like the stock template', async () => {
    const mesh = createMesh({ service: 'classic', logging: { level: 'silent' } });
    const server = openfaas.classic(
      mesh,
      async (event, context) => {
        const body = event.body;
        const kind = Buffer.isBuffer(body)
          ? `bytes:${[...body].join(',')}`
          : `${typeof body}:${String(body)}`;
        context.headers({ 'content-type': 'text/plain' }).succeed(kind);
        return 'ignored: succeed() came first';
      },
      { port: 0, shutdownSignals: false },
    );
    const { url } = await server.listen();
    try {
      const text = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'hi',
      });
      expect(await text.text()).toBe('string:hi');
      const bytes = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array([0, 255]),
      });
      expect(await bytes.text()).toBe('bytes:0,255');
    } finally {
      await server.close();
    }
  });

  it('refuses invalid JSON with 400', async () => {
    const mesh = createMesh({ service: 'classic', logging: { level: 'silent' } });
    const server = openfaas.classic(mesh, (event) => event.body, { port: 0, shutdownSignals: false });
    const { url } = await server.listen();
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{nope',
      });
      expect(response.status).toBe(400);
    } finally {
      await server.close();
    }
  });
});
