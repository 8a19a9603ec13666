import { createServer } from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: for servers that must be told their port
 * up front (a metrics port, a child process's `PORT`) rather than binding port 0 themselves.
 *
 * @example
 * ```ts
 * const port = await freePort();
 * createMesh({ service: 's', telemetry: { metrics: { exporter: 'prometheus', port } } });
 * ```
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
