/**
 * Lines to standard output go out whole, synchronously, through a pipe that takes part of a line
 * or refuses a write with EAGAIN, and a reader that never drains cannot hang the invocation.
 * The slow non-blocking pipe is simulated (fixtures/stdout-pipe.mjs): none can be made here.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/stdout-pipe.mjs', import.meta.url));

describe('writing log lines to standard output', () => {
  it('finishes a line across partial writes and EAGAIN, byte for byte', async () => {
    const { stdout, stderr } = await run(process.execPath, [fixture]);
    const line = JSON.parse(stdout) as Record<string, unknown>;
    expect(line).toMatchObject({
      service: 'pipe',
      note: 'é☃'.repeat(40),
      msg: 'a line longer than one write',
    });
    expect(stdout.endsWith('}\n')).toBe(true);
    // Many writes and several EAGAINs went into it.
    expect((JSON.parse(stderr) as { calls: number }).calls).toBeGreaterThan(20);
  });

  it('drops the line after a bounded wait when the reader never drains', async () => {
    const { stdout, stderr } = await run(process.execPath, [fixture, 'never']);
    expect(stdout).toBe('');
    const { ms } = JSON.parse(stderr) as { ms: number };
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(5_000);
  });
});
