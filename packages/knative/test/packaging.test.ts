/**
 * The built package loads from CommonJS on a Node started the way Lambda's nodejs22.x (and
 * most CommonJS function images) start it: `--no-experimental-require-module`. Runs dist/.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('is required from CommonJS with require(esm) turned off, lazy SDK included', async () => {
  const { stdout } = await run(process.execPath, [
    '--no-experimental-require-module',
    fileURLToPath(new URL('./fixtures/cjs-consumer.cjs', import.meta.url)),
  ]);
  expect(JSON.parse(stdout)).toEqual({ func: 'func ?a=1', status: 200, replyId: 'c1-r', format: 'object' });
});
