/**
 * The outbound client is loaded only when `upstreams` is configured (undici alone costs
 * 84–112 ms to import), and it works from the built CommonJS package with require(esm) off.
 * Runs the built dist/ (pnpm test builds first).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('loads undici only for a mesh with upstreams, and calls through it from CommonJS', async () => {
  expect(
    existsSync(fileURLToPath(new URL('../dist/cjs/index.js', import.meta.url))),
    'run `pnpm build` first',
  ).toBe(true);
  const { stdout } = await run(process.execPath, [
    '--no-experimental-require-module',
    fileURLToPath(new URL('./fixtures/outbound-lazy.cjs', import.meta.url)),
  ]);
  expect(JSON.parse(stdout)).toEqual({
    withoutUpstreams: false,
    beforeReady: false,
    afterReady: true,
    body: 'pong',
  });
});
