/**
 * The demo's child processes: started with a label, their output kept, and all of them stopped
 * at the end — on success, on failure, and on Ctrl-C.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';

/** A function process the demo started. */
export interface FunctionProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** True once the process exited. */
  readonly exited: boolean;
}

/** Every process the demo started, to be stopped together. */
export class ProcessGroup {
  readonly #processes: FunctionProcess[] = [];
  readonly #stoppers: (() => Promise<void>)[] = [];

  /** Starts `node args…` with `env`, keeping its output. */
  spawn(name: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd?: string): FunctionProcess {
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    return this.adopt(name, child);
  }

  /** Tracks a process started elsewhere (by the watchdog stand-in). */
  adopt(name: string, child: ChildProcess, stop?: () => Promise<void>): FunctionProcess {
    let text = '';
    let exited = child.exitCode !== null;
    const echo = process.env.DEMO_ECHO === '1';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (echo) process.stderr.write(`[${name}] ${chunk}`);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (echo) process.stderr.write(`[${name}] ${chunk}`);
    });
    child.once('exit', (code, signal) => {
      exited = true;
      text += `\n[${name} exited: ${signal ?? `code ${code}`}]\n`;
    });
    const entry: FunctionProcess = {
      name,
      child,
      output: () => text,
      get exited() {
        return exited;
      },
    };
    this.#processes.push(entry);
    if (stop) this.#stoppers.push(stop);
    return entry;
  }

  /** Runs `close` when the group stops (servers the demo itself runs). */
  onStop(close: () => Promise<void>): void {
    this.#stoppers.push(close);
  }

  get processes(): readonly FunctionProcess[] {
    return this.#processes;
  }

  /**
   * Sends SIGTERM to every running process (the container adapters drain and flush their spans),
   * SIGKILL to any still running after `graceMs`, then closes the demo's own servers.
   */
  async stop(graceMs = 3_000): Promise<void> {
    await Promise.all(
      this.#processes.map(async ({ child, exited }) => {
        if (exited || child.exitCode !== null || child.signalCode !== null) return;
        const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await done;
        clearTimeout(timer);
      }),
    );
    for (const stop of this.#stoppers.splice(0).reverse()) await stop().catch(() => {});
  }

  /** Kills every process at once, synchronously: for `process.on('exit')`. */
  killNow(): void {
    for (const { child } of this.#processes) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}

/**
 * `count` distinct ports that were free a moment ago on 127.0.0.1, picked below the range the
 * system hands out for `listen(0)` and outgoing connections (Linux: 32768–60999). Between this
 * call and the moment a function binds its port, a port from that range can be taken by any other
 * process on the machine (a test binding port 0 did, in CI); one below it cannot. They are held
 * open together and released together, so no port is handed out twice.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  const low = 20_000;
  const high = 32_767;
  let candidate = low + Math.floor(Math.random() * (high - low));
  for (let tried = 0; servers.length < count; tried++) {
    if (tried > 2_000) throw new Error(`no ${count} free ports between ${low} and ${high} on 127.0.0.1`);
    if (candidate > high) candidate = low;
    const server = createServer();
    const port = candidate++;
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (bound) servers.push(server);
  }
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Calls `probe` every 25 ms until it returns true; throws `what` after `timeoutMs`. */
export async function waitUntil(
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what: string,
  gaveUp: () => boolean = () => false,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (gaveUp()) throw new Error(`${what}: the process exited`);
    if (Date.now() > until) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
