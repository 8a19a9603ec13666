/**
 * A stand-in for the Kubeless Node runtime (an archived project whose runtime image cannot
 * run here): a real HTTP server on 127.0.0.1 that builds the runtime's `(event, context)` the
 * way its `kubeless.js` does — the raw body kept on `request.body` (body-parser `raw` with
 * type `*\/*`), `event.data` as text or parsed JSON, `event-*` headers, `extensions.request`
 * and `extensions.response`, `context.timeout` from `FUNC_TIMEOUT` (default 180 s) — and
 * sends a returned value the way the runtime does when the function did not answer itself.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** The Kubeless function signature, loosely typed so any adapter version fits. */
export type KubelessRuntimeFunction = (event: never, context: never) => unknown;

/** A running runtime stand-in. */
export interface RunningKubelessRuntime {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Serves `fn` the way the Kubeless Node runtime would.
 *
 * @example
 * ```ts
 * import { startKubelessRuntime } from '@sidecarless/testing';
 *
 * const runtime = await startKubelessRuntime((event: { data: string }) => `got ${event.data}`, { timeoutSeconds: 3 });
 * console.log(await (await fetch(runtime.url, { method: 'POST', body: 'x' })).text()); // "got x"
 * await runtime.close();
 * ```
 */
export async function startKubelessRuntime(
  fn: KubelessRuntimeFunction,
  options: { timeoutSeconds?: number; functionName?: string } = {},
): Promise<RunningKubelessRuntime> {
  const call = fn as (event: unknown, context: unknown) => unknown;
  const server = createServer((req: IncomingMessage & { body?: Buffer }, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      req.body = Buffer.concat(chunks);
      res.setHeader('access-control-allow-origin', '*');
      const isJson = (req.headers['content-type'] ?? '').startsWith('application/json');
      let data: unknown = req.body.toString('utf8');
      if (isJson && req.body.length > 0) {
        try {
          data = JSON.parse(data as string);
        } catch {
          // The runtime passes unparsable JSON on as text.
        }
      }
      const event = {
        'event-type': req.headers['event-type'],
        'event-id': req.headers['event-id'],
        'event-time': req.headers['event-time'],
        'event-namespace': req.headers['event-namespace'],
        data,
        extensions: { request: req, response: res },
      };
      const context = {
        'function-name': options.functionName ?? 'handler.main',
        timeout: options.timeoutSeconds ?? 180,
        runtime: 'nodejs22',
        'memory-limit': '128Mi',
      };
      Promise.resolve()
        .then(() => call(event, context))
        .then(
          (result) => {
            if (res.writableEnded) return;
            if (typeof result === 'string') res.end(result);
            else {
              res.setHeader('content-type', 'application/json');
              res.end(JSON.stringify(result));
            }
          },
          () => {
            if (res.writableEnded) return;
            res.statusCode = 500;
            res.end('Internal Server Error');
          },
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
