/**
 * `pnpm demo` runs the order-processing mesh as real processes and exits 0 only when every
 * scenario behaved as designed. This test runs it as CI would (against the built packages that
 * `pnpm test` builds first), checks the lines that show each behaviour, and checks that no
 * function process outlives the demo — after a normal run and after Ctrl-C with `--keep`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const demo = join(import.meta.dirname, 'demo.ts');

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runDemo(args: string[] = []): Run {
  const child = spawn(process.execPath, [demo, ...args], {
    env: { PATH: process.env.PATH, TZ: 'UTC' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => text, exited };
}

function functionPids(output: string): number[] {
  const line = /^Function processes: (.*)$/m.exec(output)?.[1] ?? '';
  return [...line.matchAll(/pid (\d+)/g)].map((match) => Number(match[1]));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('pnpm demo (examples/order-processing)', () => {
  it('runs every scenario as designed, prints the trace and metrics, and stops every process', async () => {
    const run = runDemo();
    const { code } = await run.exited;
    const output = run.output();
    expect(code, output).toBe(0);
    expect(output).toMatch(/demo OK: every scenario behaved as designed in \d+\.\d+s/);
    expect(output.match(/✓ as designed/g)).toHaveLength(9);
    // The behaviours, one line each.
    expect(output).toMatch(/← 401 .*SCL_ERR_UNAUTHENTICATED/);
    expect(output).toMatch(
      /inventory +info +stock checked .*caller=spiffe:\/\/cluster\.local\/ns\/shop\/sa\/orders/,
    );
    expect(output).toMatch(/← 201 .*"paymentAttempts":3/);
    expect(output).toMatch(/← 503 .*SCL_ERR_CIRCUIT_OPEN/);
    expect(output).toMatch(/payments +warn +charge abandoned at the caller's deadline/);
    expect(output).toMatch(/← 403 .*SCL_ERR_FORBIDDEN/);
    expect(output).toMatch(/without one: handshake refused/);
    // Metrics scraped from the functions, and the waterfall of one order.
    expect(output).toMatch(/^ +orders +\d+ +\d+ +\d+ +[4-9]\d* +closed$/m);
    expect(output).toMatch(/── The trace of alice's order \([0-9a-f]{32}\): \d+ spans/);
    for (const service of ['orders', 'inventory', 'payments']) {
      expect(output).toMatch(
        new RegExp(`^ +${service} +.*\\((server|client)\\) +[\\d.]+ms +[\\d.]+ms +(UNSET|OK) `, 'm'),
      );
    }
    const pids = functionPids(output);
    expect(pids).toHaveLength(4);
    expect(pids.filter(isRunning)).toEqual([]);
  }, 90_000);

  it('with --keep prints curl lines, keeps the functions running, and stops them all on Ctrl-C', async () => {
    const run = runDemo(['--keep']);
    const deadline = Date.now() + 60_000;
    while (!run.output().includes('Press Ctrl-C to stop them') && Date.now() < deadline) {
      if (run.child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const output = run.output();
    expect(output, output).toContain('Press Ctrl-C to stop them');
    expect(output).toMatch(/curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/orders -H 'authorization: Bearer ey/);
    const pids = functionPids(output);
    expect(pids).toHaveLength(4);
    expect(pids.filter(isRunning)).toHaveLength(4);
    // The functions still answer while the demo waits.
    const front = /curl -s -X POST (http:\/\/127\.0\.0\.1:\d+)\/orders -d/.exec(output)?.[1];
    expect((await fetch(`${front}/orders`, { method: 'POST', body: '{}' })).status).toBe(401);

    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code).toBe(130);
    expect(pids.filter(isRunning)).toEqual([]);
  }, 90_000);
});
