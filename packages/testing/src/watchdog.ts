/**
 * A stand-in for OpenFaaS's of-watchdog in HTTP mode. The real watchdog is a Go program that
 * cannot be built on the test machines, so this reproduces the contract a function sees from
 * it: the function runs as a real child process with `http_port`, `exec_timeout` and
 * `write_timeout` in its environment; every request is proxied to it unchanged; a request still
 * unanswered after `exec_timeout` gets 504; `/_/health` answers 200 once the function accepts
 * connections; SIGTERM is forwarded to the function.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { freePort } from './ports.js';

/** Options of {@link startWatchdog}. */
export interface WatchdogOptions {
  /** The function process: `node` and its arguments, typically. */
  command: string;
  args: readonly string[];
  /** Extra environment for the function. */
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** The watchdog's `exec_timeout`, in Go syntax. Default `"10s"`. */
  execTimeout?: string;
  /** The watchdog's `write_timeout`, in Go syntax. Default: `execTimeout`. */
  writeTimeout?: string;
  /** How long the function may take to accept connections. Default 15 s. */
  startupTimeoutMs?: number;
}

/** A running watchdog and its function process. */
export interface RunningWatchdog {
  /** The watchdog's address: send requests here, as the gateway would. */
  readonly url: string;
  /** The function's own port (`http_port`). */
  readonly upstreamPort: number;
  /** The function process. */
  readonly child: ChildProcess;
  /** What the function wrote so far. */
  output(): { stdout: string; stderr: string };
  /** Forwards SIGTERM to the function and resolves with its exit code once it exited. */
  terminate(): Promise<number | null>;
  /** Stops the proxy, killing the function if it still runs. */
  close(): Promise<void>;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function goDurationMs(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value);
  if (!match) throw new TypeError(`watchdog: use a simple Go duration such as "2s" or "500ms", got ${value}`);
  return Number(match[1]) * (match[2] === 'ms' ? 1 : match[2] === 's' ? 1_000 : 60_000);
}

const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade']);

/**
 * Starts the function behind a watchdog stand-in and waits until it accepts connections.
 *
 * @example
 * ```ts
 * import { startWatchdog } from '@sidecarless/testing';
 *
 * const watchdog = await startWatchdog({ command: process.execPath, args: ['fixtures/function.ts'], execTimeout: '2s' });
 * const response = await fetch(`${watchdog.url}/anything`, { headers: { 'x-call-id': 'call-1' } });
 * const exitCode = await watchdog.terminate(); // 0 after a clean drain
 * await watchdog.close();
 * ```
 */
export async function startWatchdog(options: WatchdogOptions): Promise<RunningWatchdog> {
  const execTimeout = options.execTimeout ?? '10s';
  const execMs = goDurationMs(execTimeout);
  const upstreamPort = await freePort();
  const child = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: {
      ...process.env,
      ...options.env,
      http_port: String(upstreamPort),
      exec_timeout: execTimeout,
      write_timeout: options.writeTimeout ?? execTimeout,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let running = true;
  void exited.then(() => {
    running = false;
  });

  const startBy = Date.now() + (options.startupTimeoutMs ?? 15_000);
  while (!(await accepts(upstreamPort))) {
    if (!running) throw new Error(`the function exited before accepting connections:\n${stderr}`);
    if (Date.now() > startBy) {
      child.kill('SIGKILL');
      throw new Error(`the function did not accept connections on ${upstreamPort}:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  const agent = new Agent({ keepAlive: true });
  const proxy: Server = createServer((req: IncomingMessage, res) => {
    if (req.url === '/_/health') {
      res.writeHead(running ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(running ? 'OK' : 'function not running');
      return;
    }
    const headers: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (!hopByHop.has(req.rawHeaders[i]!.toLowerCase()))
        headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    const upstream = httpRequest({
      host: '127.0.0.1',
      port: upstreamPort,
      method: req.method,
      path: req.url,
      headers,
      agent,
    });
    const timer = setTimeout(() => {
      upstream.destroy();
      if (!res.headersSent) {
        res.writeHead(504, { 'content-type': 'text/plain' });
        res.end(`Can't reach service for: ${req.url} (exec_timeout ${execTimeout})`);
      } else {
        res.destroy();
      }
    }, execMs);
    upstream.once('response', (answer) => {
      clearTimeout(timer);
      const back: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) {
        if (!hopByHop.has(answer.rawHeaders[i]!.toLowerCase()))
          back.push(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
      }
      res.writeHead(answer.statusCode ?? 502, back);
      answer.pipe(res);
    });
    upstream.once('error', () => {
      clearTimeout(timer);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`Can't reach service for: ${req.url}`);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as { port: number };

  const close = async () => {
    if (running) {
      child.kill('SIGKILL');
      await exited;
    }
    agent.destroy();
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  };

  return {
    url: `http://127.0.0.1:${port}`,
    upstreamPort,
    child,
    output: () => ({ stdout, stderr }),
    async terminate() {
      if (running) child.kill('SIGTERM');
      return exited;
    },
    close,
  };
}
