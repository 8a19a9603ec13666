import { createServer } from 'node:net';

const low = 20_000;
const high = 32_767;

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: for servers that must be told their port
 * up front (a metrics port, a child process's `PORT`) rather than binding port 0 themselves.
 *
 * Picked below the range the system hands out for `listen(0)` and outgoing connections (Linux:
 * 32768–60999): until the server binds it, a port from that range can be taken by any test that
 * binds port 0 (the demo test lost one that way in CI); one below it cannot.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { telemetry } from '@sidecarless/telemetry';
 * import { freePort } from '@sidecarless/testing';
 *
 * const port = await freePort();
 * createMesh({ service: 's', telemetry: { metrics: { exporter: 'prometheus', port } } }, [telemetry]);
 * ```
 */
export async function freePort(): Promise<number> {
  let candidate = low + Math.floor(Math.random() * (high - low));
  for (let tried = 0; tried < 2_000; tried++, candidate++) {
    if (candidate > high) candidate = low;
    const server = createServer();
    const port = candidate;
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    await new Promise((resolve) => server.close(resolve));
    return port;
  }
  throw new Error(`no free port between ${low} and ${high} on 127.0.0.1`);
}
