/**
 * undici is loaded only with the HTTP transport (`@sidecarless/outbound/http`): a call()-only
 * upstream loads none of it, and both work from the built CommonJS package with require(esm) off.
 * Runs the built dist/ (pnpm test builds first).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('loads undici only with the HTTP transport, and calls through both from CommonJS', async () => {
  expect(
    existsSync(fileURLToPath(new URL('../dist/cjs/index.js', import.meta.url))),
    'run `pnpm build` first',
  ).toBe(true);
  const { stdout } = await run(process.execPath, [
    '--no-experimental-require-module',
    fileURLToPath(new URL('./fixtures/outbound-lazy.cjs', import.meta.url)),
  ]);
  expect(JSON.parse(stdout)).toEqual({
    called: 'done',
    withCallOnly: false,
    withTransport: true,
    body: 'pong',
    crossCopy: true,
  });
});
