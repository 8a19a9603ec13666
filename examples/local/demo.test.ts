/** The smaller example keeps working: examples/local/demo.ts exits 0 with its summary line. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

describe('examples/local', () => {
  it('runs its four invocations as designed and says so', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(import.meta.dirname, 'demo.ts')], {
      env: { PATH: process.env.PATH, TZ: 'UTC' },
    });
    expect(stdout).toMatch(/demo OK: 4 invocations behaved as designed/);
    expect(stdout).not.toContain('demo-token-never-logged');
  });
});
