import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DeadlineWatch } from './deadline-watch.js';
import { SidecarlessError } from './errors.js';

const never = new Promise<never>(() => {});
const after = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

function outcome<T>(watch: DeadlineWatch, pending: Promise<T>, deadline: number) {
  return new Promise<{ value?: T; error?: unknown; at: number }>((resolve) => {
    watch.watch(
      pending,
      deadline,
      (value) => resolve({ value, at: Date.now() }),
      (error) => resolve({ error, at: Date.now() }),
    );
  });
}

describe('DeadlineWatch', () => {
  it('passes on what settles first and fails what reaches its deadline, each once', async () => {
    const watch = new DeadlineWatch();
    const start = Date.now();
    const calls: string[] = [];
    const [fast, hung, failed, late] = await Promise.all([
      outcome(watch, after(10, 'fast'), start + 200),
      outcome(watch, never, start + 60),
      outcome(watch, Promise.reject(new Error('handler failed')), start + 200),
      outcome(watch, after(120, 'too late'), start + 40),
    ]);
    expect(fast.value).toBe('fast');
    expect(hung.error).toBeInstanceOf(SidecarlessError);
    expect((hung.error as SidecarlessError).status).toBe(504);
    expect(hung.at - start).toBeGreaterThanOrEqual(59);
    expect(failed.error).toBeInstanceOf(Error);
    expect((failed.error as Error).message).toBe('handler failed');
    expect((late.error as SidecarlessError).status).toBe(504);
    expect(late.at - start).toBeLessThan(110);
    // The late value arriving after its deadline calls nothing.
    watch.watch(
      after(30, 'ignored'),
      Date.now() + 5,
      () => calls.push('done'),
      () => calls.push('failed'),
    );
    await after(60, null);
    expect(calls).toEqual(['failed']);
  });

  it('re-arms for an earlier deadline that arrives after a later one', async () => {
    const watch = new DeadlineWatch();
    const start = Date.now();
    const late = outcome(watch, never, start + 400);
    const early = await outcome(watch, never, start + 30);
    expect(early.at - start).toBeLessThan(300);
    expect((await late).at - start).toBeGreaterThanOrEqual(399);
  });

  it('fails at once when the deadline has already passed', async () => {
    const result = await outcome(new DeadlineWatch(), after(5, 'x'), Date.now() - 1);
    expect((result.error as SidecarlessError).code).toBe('SCL_ERR_DEADLINE_EXCEEDED');
  });

  it('holds the process open only while something is pending', () => {
    // The built module (`pnpm test` builds first): a child process cannot load the sources' .js imports.
    const module = fileURLToPath(new URL('../dist/esm/deadline-watch.js', import.meta.url));
    // A child process: exits at once when the watched work is done even though the deadline is an
    // hour away, and stays alive for a handler that waits on nothing but its 300 ms deadline.
    const script = `
      const { DeadlineWatch } = await import(${JSON.stringify(module)});
      const watch = new DeadlineWatch();
      const mode = process.argv[1];
      const start = Date.now();
      if (mode === 'done') watch.watch(Promise.resolve(1), Date.now() + 3_600_000, () => {}, () => {});
      else watch.watch(new Promise(() => {}), Date.now() + 300, () => {}, (e) => console.log('timed out', e.status, Date.now() - start >= 290));
      process.on('exit', () => console.log('exit after', Date.now() - start < 2_000 ? 'under 2 s' : 'too long'));
    `;
    const run = (mode: string) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', script, mode], {
        encoding: 'utf8',
        timeout: 10_000,
      });
    expect(run('done').stdout.trim()).toBe('exit after under 2 s');
    expect(run('pending').stdout.trim().split('\n')).toEqual(['timed out 504 true', 'exit after under 2 s']);
  });
});
