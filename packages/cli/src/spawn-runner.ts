/** Starts the runner (runner.ts) in a fresh Node process and collects its result and output. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult, RunSpec } from './runner.js';
import { UsageError } from './terminal.js';

const runnerPath = fileURLToPath(new URL('./runner.js', import.meta.url));

/**
 * The Node flags a handler needs: on Node 22, a Lambda function runs with `require(esm)` off, as
 * AWS's nodejs22.x runtime does; a `.ts` file needs type stripping on a Node that does not strip by
 * default.
 */
export function loaderFlags(file: string, platform: RunSpec['platform']): string[] {
  const major = Number(process.versions.node.split('.')[0]);
  const runtime = platform === 'lambda' && major === 22 ? ['--no-experimental-require-module'] : [];
  return [...runtime, ...typeScriptFlags(file)];
}

function typeScriptFlags(file: string): string[] {
  if (!/^\.[cm]?ts$/.test(extname(file))) return [];
  // On by default from Node 22.18 and 23.6 (process.features.typescript is then "strip").
  const features = process.features as { typescript?: string | false };
  if (features.typescript) return [];
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 6))
    return ['--experimental-strip-types', '--disable-warning=ExperimentalWarning'];
  throw new UsageError(
    `Node ${process.versions.node} cannot load ${extname(file)} files; run on Node 22.18 or later, or give a .js handler`,
  );
}

/** A port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface RunOutcome {
  /** `undefined` when the process died without reporting (killed at the deadline, or exited). */
  readonly result: RunResult | undefined;
  readonly timedOut: boolean;
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Every line the handler wrote, stdout and stderr, in order of arrival. */
  readonly lines: { stream: 'stdout' | 'stderr'; text: string }[];
}

/**
 * Runs `spec` in a child process; `onLine` sees each output line as it arrives. The child is
 * killed `killAfterMs` after it started (the function's timeout, as Lambda does).
 */
export function runInChild(
  spec: RunSpec,
  options: {
    env: NodeJS.ProcessEnv;
    killAfterMs: number;
    onLine?: (stream: 'stdout' | 'stderr', text: string) => void;
  },
): Promise<RunOutcome> {
  if (!existsSync(runnerPath))
    throw new Error(`the runner is missing at ${runnerPath}; rebuild @sidecarless/cli`);
  const child = spawn(
    process.execPath,
    [...loaderFlags(spec.file, spec.platform), runnerPath, JSON.stringify(spec)],
    {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: options.env,
    },
  );
  const lines: RunOutcome['lines'] = [];
  const collect = (stream: 'stdout' | 'stderr') => {
    let pending = '';
    child[stream]!.setEncoding('utf8');
    child[stream]!.on('data', (chunk: string) => {
      pending += chunk;
      let at = pending.indexOf('\n');
      while (at >= 0) {
        const text = pending.slice(0, at);
        pending = pending.slice(at + 1);
        lines.push({ stream, text });
        options.onLine?.(stream, text);
        at = pending.indexOf('\n');
      }
    });
    child[stream]!.on('end', () => {
      if (pending !== '') {
        lines.push({ stream, text: pending });
        options.onLine?.(stream, pending);
      }
    });
  };
  collect('stdout');
  collect('stderr');
  let report = '';
  const channel = child.stdio[3] as NodeJS.ReadableStream;
  channel.setEncoding('utf8');
  channel.on('data', (chunk: string) => {
    report += chunk;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.killAfterMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode, signal) => {
      clearTimeout(timer);
      const line = report.split('\n').find((text) => text.startsWith('{'));
      resolve({
        result: line === undefined ? undefined : (JSON.parse(line) as RunResult),
        timedOut,
        exitCode,
        signal,
        lines,
      });
    });
  });
}
