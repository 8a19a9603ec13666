import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { forward, freePort } from '@sidecarless/testing';
import type { AdapterUnderTest } from '../harness.ts';

/**
 * Knative Functions: the real faas-js-runtime loads `knative.func(...)` in a child process.
 * The runtime routes only `/` to a function, so each request is sent to `/` with its path in
 * `x-original-path`, the header `knative.func`'s `originalPathHeader` option reads.
 */
export const knativeFuncAdapter: AdapterUnderTest = {
  name: 'knative (faas-js-runtime, child process)',
  platform: 'knative',
  async start() {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./knative-func-function.ts', import.meta.url))],
      {
        env: { ...process.env, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const started = new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('listening')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`faas-js-runtime exited with ${code}:\n${stderr}`)));
    });
    await started;
    const base = `http://127.0.0.1:${port}`;
    return {
      socket: { port, pathHeader: 'x-original-path' },
      send(request) {
        const url = new URL(request.url);
        const rooted = new Request(`${url.origin}/${url.search}`, request);
        return forward(base, rooted, { 'x-original-path': url.pathname });
      },
      async stop() {
        if (child.exitCode === null) {
          child.kill('SIGTERM');
          await once(child, 'exit');
        }
      },
    };
  },
};
