/** `knative(...)` and `knative.func(...)` on real servers: port, probes, platform facts. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createMesh } from '@sidecarless/core';
import { knative } from '@sidecarless/knative';
import { freePort, OtlpSpanKind, startOtlpReceiver } from '@sidecarless/testing';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { describe, expect, it } from 'vitest';

describe('knative', () => {
  it('listens on PORT with Knative probes and the revision facts on the context', async () => {
    const port = await freePort();
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' } });
    const server = knative(
      mesh,
      (_request, ctx) => Response.json({ platform: ctx.platform, attributes: ctx.attributes }),
      {
        shutdownSignals: false,
        env: { PORT: String(port), K_SERVICE: 'orders', K_REVISION: 'orders-00001' },
      },
    );
    const { url } = await server.listen();
    try {
      expect(url).toBe(`http://127.0.0.1:${port}`);
      expect((await fetch(`${url}/health/readiness`)).status).toBe(200);
      expect((await fetch(`${url}/health/liveness`)).status).toBe(200);
      expect(await (await fetch(`${url}/`)).json()).toEqual({
        platform: 'knative',
        attributes: { 'faas.name': 'orders', 'faas.version': 'orders-00001' },
      });
    } finally {
      await server.close();
    }
  });

  it('refuses a PORT that is not a port', () => {
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' } });
    expect(() => knative(mesh, () => new Response(), { env: { PORT: 'eighty' } })).toThrow(
      /PORT="eighty" is not a port/,
    );
  });
});

describe('knative.func under the real faas-js-runtime', () => {
  it('answers probes and hands CloudEvents and plain HTTP to the handler with their facts', async () => {
    const port = await freePort();
    const receiver = await startOtlpReceiver();
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./fixtures/func-function.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          PORT: String(port),
          K_SERVICE: 'hello',
          K_REVISION: 'hello-00003',
          TEST_OTLP_URL: receiver.url,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('listening')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`runtime exited with ${code}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      const readiness = await fetch(`${base}/health/readiness`);
      expect(readiness.status).toBe(200);
      expect(await readiness.text()).toBe('ok');
      expect((await fetch(`${base}/health/liveness`)).status).toBe(200);

      const http = (await (await fetch(base, { method: 'POST', body: 'plain' })).json()) as Record<
        string,
        unknown
      >;
      expect(http).toMatchObject({ method: 'POST', body: 'plain', trigger: 'http' });
      expect(http.traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(http.attributes).toEqual({ 'faas.name': 'hello', 'faas.version': 'hello-00003' });

      const emit = emitterFor(httpTransport(base), { mode: Mode.BINARY });
      const reply = (await emit(
        new CloudEvent({
          id: 'evt-1',
          type: 'greeting',
          source: '/test',
          data: { hi: true },
          traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        }),
      )) as { body: string };
      expect(JSON.parse(reply.body)).toMatchObject({
        trigger: 'pubsub',
        invocationId: 'evt-1',
        body: '{"hi":true}',
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      });
      // SIGTERM: the runtime calls shutdown(), which flushes the spans before the process exits.
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
      const event = receiver.spans.find((span) => span.attributes['faas.invocation_id'] === 'evt-1');
      expect(event).toMatchObject({
        kind: OtlpSpanKind.consumer,
        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
        parentSpanId: '00f067aa0ba902b7',
      });
      expect(event?.attributes).toMatchObject({ 'faas.name': 'hello', 'faas.version': 'hello-00003' });
    } finally {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await receiver.close();
    }
  });
});
