/** The built package loads from CommonJS with require(esm) turned off. Runs dist/. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('is required from CommonJS with require(esm) turned off', async () => {
  const { stdout } = await run(process.execPath, [
    '--no-experimental-require-module',
    fileURLToPath(new URL('./fixtures/cjs-consumer.cjs', import.meta.url)),
  ]);
  expect(stdout).toBe('e-1:hello');
});
