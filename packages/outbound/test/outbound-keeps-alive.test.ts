/**
 * A retry's wait belongs to the invocation: on Lambda nothing else may hold the event loop
 * open between two attempts (undici's idle keep-alive sockets do not), and an unref'd wait let
 * the runtime process exit in the middle of a retry. The client runs in a child process on the
 * built package; the upstream runs here.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createUpstreamServer, type UpstreamServer } from '@sidecarless/testing';
import { afterEach, expect, it } from 'vitest';

const run = promisify(execFile);
let upstream: UpstreamServer | undefined;
afterEach(async () => {
  await upstream?.close();
});

it('keeps the process alive while a retry waits for its backoff', async () => {
  upstream = await createUpstreamServer({ name: 'payments' });
  upstream.respond({ status: 503 }, { status: 200, body: 'paid' });
  const script = `
    const { createMesh } = require('@sidecarless/core');
    const { prepareHttp } = require('@sidecarless/core/adapter');
    const { outbound } = require('@sidecarless/outbound');
    const { http } = require('@sidecarless/outbound/http');
    const mesh = createMesh({
      service: 'orders',
      logging: { level: 'silent' },
      upstreams: { payments: { url: ${JSON.stringify(upstream.url)}, retries: { attempts: 2, retryOn: '5xx', backoff: { baseInterval: '300ms', maxInterval: '300ms' } } } },
    }, [outbound, http]);
    // Like the Lambda adapter: no deadline race of the mesh's own holding the loop.
    const runHttp = prepareHttp(mesh, async (request, ctx) => ctx.upstream('payments').fetch('/charge'));
    mesh.ready()
      .then(() => runHttp(new Request('http://localhost/'), { platform: 'test', deadline: Date.now() + 5000 }))
      .then((response) => response.text())
      .then((text) => { process.stdout.write(text); return mesh.close(); });
  `;
  const { stdout } = await run(process.execPath, ['-e', script], {
    cwd: new URL('..', import.meta.url).pathname,
  });
  expect(stdout).toBe('paid');
  expect(upstream.requests).toHaveLength(2);
});
