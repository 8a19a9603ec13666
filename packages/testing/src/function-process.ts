/**
 * A function process for tests that need real signals (SIGTERM drains): spawned with this Node,
 * its standard output collected, and `waitFor` to follow what it prints. Killed with SIGKILL by
 * {@link killFunctionProcesses} if a test left it running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface FunctionProcess {
  readonly child: ChildProcess;
  /** Everything written to standard output so far. */
  readonly stdout: () => string;
  /** Resolves once standard output holds `count` lines matching `pattern` (a line-anchored regex). */
  readonly waitFor: (pattern: RegExp, count?: number) => Promise<void>;
  /** The exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

/**
 * Starts `node file` with `env` added to this process's environment.
 *
 * @example
 * ```ts
 * import { startFunctionProcess } from '@sidecarless/testing';
 *
 * const fn = startFunctionProcess('./fixtures/server.mjs', { TEST_GRACE: '1s' });
 * await fn.waitFor(/^listening /);
 * fn.child.kill('SIGTERM');
 * console.log(await fn.exited); // 0 after a clean drain
 * ```
 */
export function startFunctionProcess(file: string, env: Record<string, string> = {}): FunctionProcess {
  const child = spawn(process.execPath, [file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => {
    running.delete(child);
    return code as number | null;
  });
  const waitFor = async (pattern: RegExp, count = 1) => {
    const global = new RegExp(pattern.source, 'gm');
    const started = Date.now();
    while ((out.match(global) ?? []).length < count) {
      if (child.exitCode !== null) throw new Error(`the process exited early:\n${out}`);
      if (Date.now() - started > 10_000) throw new Error(`no ${pattern} after 10 s in:\n${out}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return { child, stdout: () => out, waitFor, exited };
}

/** SIGKILLs every function process still running (for `afterEach`). */
export async function killFunctionProcesses(): Promise<void> {
  await Promise.all(
    [...running].map(async (child) => {
      child.kill('SIGKILL');
      await once(child, 'exit').catch(() => {});
    }),
  );
  running.clear();
}
