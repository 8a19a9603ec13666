/**
 * A real Redis for tests: Debian's `redis-server` (installed by `scripts/setup-system.sh
 * --tests`), started on 127.0.0.1 on a free port with its files in a temp dir, no persistence.
 * `kill()` stops it the hard way (a crash, as far as clients can tell) and `restart()` brings it
 * back on the same port, so tests can watch a client fail and recover.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export interface RedisServerOptions {
  /** `requirepass`: clients must AUTH with this password (user `default`). */
  readonly password?: string;
  /** ACL users, as `user <name> on ><password> ~* +@all` lines take them. */
  readonly users?: readonly { readonly name: string; readonly password: string }[];
  /** TLS only (the plain port is turned off): the server's certificate and key, in PEM. */
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string };
}

export interface RedisServer {
  /** `redis://127.0.0.1:<port>` (or `rediss://` with TLS), without credentials. */
  readonly url: string;
  readonly port: number;
  /** SIGKILLs the server (clients see their connection drop). */
  kill(): Promise<void>;
  /** Starts it again on the same port, with the same options (data is not kept). */
  restart(): Promise<void>;
  /** Stops it and removes its temp dir. */
  close(): Promise<void>;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`redis-server did not listen on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Starts a Redis on 127.0.0.1; close it in `afterAll`. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sidecarless-redis-'));
  const args = [
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'no',
  ];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  if (options.tls) {
    writeFileSync(join(dir, 'cert.pem'), options.tls.cert);
    writeFileSync(join(dir, 'key.pem'), options.tls.key);
    writeFileSync(join(dir, 'ca.pem'), options.tls.ca);
    args.push(
      '--port',
      '0',
      '--tls-port',
      String(port),
      '--tls-cert-file',
      join(dir, 'cert.pem'),
      '--tls-key-file',
      join(dir, 'key.pem'),
      '--tls-ca-cert-file',
      join(dir, 'ca.pem'),
      '--tls-auth-clients',
      'no',
    );
  } else {
    args.push('--port', String(port));
  }
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'inherit'] });
    await waitForPort(port, 5_000);
    for (const user of options.users ?? []) {
      // ACL SETUSER through redis-cli keeps this helper free of a Redis client.
      const cli = ['-p', String(port), '-h', '127.0.0.1'];
      if (options.tls) cli.push('--tls', '--cacert', join(dir, 'ca.pem'));
      if (options.password !== undefined) cli.push('-a', options.password, '--no-auth-warning');
      cli.push('ACL', 'SETUSER', user.name, 'on', `>${user.password}`, '~*', '+@all');
      await new Promise<void>((resolve, reject) => {
        const setup = spawn('redis-cli', cli, { stdio: 'ignore' });
        setup.once('exit', (code) =>
          code === 0 ? resolve() : reject(new Error(`redis-cli exited ${code}`)),
        );
      });
    }
  };
  const stop = async (signal: NodeJS.Signals) => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `${options.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    port,
    kill: () => stop('SIGKILL'),
    restart: start,
    close: async () => {
      await stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
