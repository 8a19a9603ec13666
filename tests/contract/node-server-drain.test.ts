/**
 * Shutdown of the shared Node server as a container platform does it: a real child process, real
 * SIGTERM and SIGINT, a real OTLP receiver, requests over real keep-alive connections on
 * 127.0.0.1. What must hold: nothing that finished or was cut is lost from the telemetry, a second
 * signal shortens the drain but never skips the flush, a request sent on an idle keep-alive
 * connection just after SIGTERM is answered rather than reset, and a slow upload past its
 * deadline gets exactly one response.
 */
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  type FunctionProcess,
  killFunctionProcesses,
  type OtlpReceiver,
  startFunctionProcess,
  startOtlpReceiver,
} from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./drain-server.mjs', import.meta.url));
let receiver: OtlpReceiver;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});
afterEach(killFunctionProcesses);

type DrainServer = FunctionProcess & { readonly port: number };

async function startServer(env: Record<string, string> = {}): Promise<DrainServer> {
  const fn = startFunctionProcess(fixture, { TEST_OTLP_URL: receiver.url, ...env });
  await fn.waitFor(/^listening \d+$/);
  return { ...fn, port: Number(/^listening (\d+)$/m.exec(fn.stdout())![1]) };
}

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
  readonly body: string;
}

/** One GET through `agent` (keep-alive), as status and body, or the socket error's code. */
function get(
  port: number,
  path: string,
  agent: Agent,
  headers: Record<string, string> = {},
): Promise<Answer | string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
      res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

const accessLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === 'access');

const spansOf = (ids: readonly string[]) =>
  receiver.spans.filter((span) => ids.includes(span.attributes['faas.invocation_id'] as string));

describe('drain of the shared Node server, in a real process', () => {
  it('answers requests still running at the end of the grace period with a 503, and exports their spans and access lines', async () => {
    const server = await startServer({ TEST_GRACE: '300ms' });
    const agent = new Agent({ keepAlive: true });
    const ids = ['cut-1', 'cut-2'];
    const answers = ids.map((id) => get(server.port, '/slow?ms=20000', agent, { 'x-call-id': id }));
    await server.waitFor(/^started /, 2);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    for (const answer of await Promise.all(answers)) {
      expect(answer).toMatchObject({ status: 503, connection: 'close' });
      expect(JSON.parse((answer as Answer).body)).toMatchObject({ code: 'SCL_ERR_SHUTTING_DOWN' });
    }
    const spans = spansOf(ids);
    expect(spans).toHaveLength(2);
    for (const span of spans) {
      expect(span.status.code).toBe(2);
      expect(span.attributes['http.response.status_code']).toBe(503);
    }
    const access = accessLines(server.stdout()).filter((line) => ids.includes(line.invocation_id as string));
    expect(access.map((line) => line.status)).toEqual([503, 503]);
    agent.destroy();
  });

  it('shortens the drain on a second signal, and still flushes before exiting', async () => {
    const server = await startServer({ TEST_GRACE: '20s' });
    const agent = new Agent({ keepAlive: true });
    const ids = ['twice-1', 'twice-2', 'twice-3'];
    const answers = ids.map((id) => get(server.port, '/slow?ms=20000', agent, { 'x-call-id': id }));
    await server.waitFor(/^started /, 3);
    server.child.kill('SIGTERM');
    await server.waitFor(/"msg":"shutdown signal: draining"/);
    const began = Date.now();
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
    expect(Date.now() - began).toBeLessThan(3_000);
    expect((await Promise.all(answers)).map((answer) => (answer as Answer).status)).toEqual([503, 503, 503]);
    expect(spansOf(ids)).toHaveLength(3);
    expect(server.stdout()).toContain('"msg":"second shutdown signal: ending the grace period now"');
    agent.destroy();
  });

  it('serves a request sent on an idle keep-alive connection just after SIGTERM, with connection: close', async () => {
    const server = await startServer({ TEST_GRACE: '5s' });
    const connections = 8;
    const agent = new Agent({ keepAlive: true, maxSockets: connections });
    // Open eight keep-alive connections and leave them idle.
    const warm = await Promise.all(
      Array.from({ length: connections }, () => get(server.port, '/slow?ms=50', agent)),
    );
    expect(warm.map((answer) => (answer as Answer).status)).toEqual(Array(connections).fill(200));
    expect(Object.values(agent.freeSockets).flat()).toHaveLength(connections);
    server.child.kill('SIGTERM');
    await server.waitFor(/"msg":"shutdown signal: draining"/);
    // The server is draining now; these go out on the idle connections.
    const late = await Promise.all(
      Array.from({ length: connections }, () => get(server.port, '/slow?ms=10', agent)),
    );
    expect(late).toEqual(
      Array(connections).fill(expect.objectContaining({ status: 200, connection: 'close' })),
    );
    expect(await server.exited).toBe(0);
    agent.destroy();
  });

  it('sends one response to an upload still arriving at its deadline, then closes the connection', async () => {
    const server = await startServer({ TEST_TIMEOUT: '300ms', TEST_REQUEST_TIMEOUT: '1s' });
    const received = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        text += chunk;
      });
      // 10 of the 1,000 bytes announced, then one byte every 50 ms: the handler waits on the body
      // past its deadline (300 ms), and Node's own request timeout (1 s) comes after.
      socket.write('POST /upload HTTP/1.1\r\nHost: drain.test\r\nContent-Length: 1000\r\n\r\n0123456789');
      const trickle = setInterval(() => {
        if (!socket.destroyed && socket.writable) socket.write('x');
      }, 50);
      socket.on('error', (error: NodeJS.ErrnoException) => {
        // The server closing on a client still writing may reset: what was received counts.
        if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
      });
      socket.on('close', () => {
        clearInterval(trickle);
        resolve(text);
      });
      setTimeout(() => socket.destroy(), 3_000).unref();
    });
    const statusLines = received.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    expect(statusLines).toEqual(['HTTP/1.1 504']);
    expect(received.toLowerCase()).toContain('connection: close');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
