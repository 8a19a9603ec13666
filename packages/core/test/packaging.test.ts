/**
 * The published shape: the built package loads from CommonJS on a Node started the way Lambda's
 * nodejs22.x starts it (`--no-experimental-require-module`: no require() of ES modules anywhere
 * in the dependency tree), and from ESM. These tests run the built dist/, not the sources.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('the built package', () => {
  beforeAll(() => {
    const dist = fileURLToPath(new URL('../dist/cjs/index.js', import.meta.url));
    expect(existsSync(dist), 'run `pnpm build` first (pnpm test does)').toBe(true);
  });

  it('is required from CommonJS with require(esm) turned off', async () => {
    const { stdout } = await run(process.execPath, [
      '--no-experimental-require-module',
      fixture('cjs-handler.cjs'),
    ]);
    expect(JSON.parse(stdout)).toEqual({
      body: { url: 'http://localhost/cjs', platform: 'local' },
      isError: true,
    });
  });

  it('is imported from an ES module', async () => {
    const { stdout } = await run(process.execPath, [fixture('esm-handler.mjs')]);
    expect(JSON.parse(stdout)).toEqual({ body: { url: 'http://localhost/esm', platform: 'local' } });
  });
});
