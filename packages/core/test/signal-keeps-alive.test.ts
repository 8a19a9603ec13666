/**
 * A handler that waits only on `ctx.signal` must keep the process alive until the signal fires:
 * Node exits when its event loop is empty, which on Lambda looks like "Runtime exited" in the
 * middle of an invocation. Runs a real child process on the built package.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('keeps the process alive while a handler waits for ctx.signal', async () => {
  const script = `
    const { createMesh } = require('@sidecarless/core');
    const { prepareHttp } = require('@sidecarless/core/adapter');
    const mesh = createMesh({ service: 'alive', logging: { level: 'silent' }, invocation: { safetyMargin: 100 } });
    // Like the Lambda adapter: no deadline race of the mesh's own, only the signal's timer.
    const run = prepareHttp(mesh, (request, ctx) =>
      new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(new Response('stopped')))));
    run(new Request('http://localhost/'), { platform: 'test', deadline: Date.now() + 300 })
      .then((response) => response.text())
      .then((text) => process.stdout.write(text));
  `;
  const { stdout } = await run(process.execPath, ['-e', script], {
    cwd: new URL('..', import.meta.url).pathname,
  });
  expect(stdout).toBe('stopped');
});
