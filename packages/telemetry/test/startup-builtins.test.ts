/**
 * What a cold start loads. An ES-module `import` of `node:http` builds a facade that loads Node's
 * whole bundled Fetch/WebSocket implementation (~40 ms); `node:crypto` and `node:tls` cost
 * 7–13 ms each (see src/node-builtin.ts). The kernel must not load them before an invocation
 * needs them — neither from the built package nor from the one-file ES-module bundle most Lambda
 * functions ship, where every lazily loaded feature's imports sit at the top of the file.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/startup-builtins.mjs', import.meta.url));
const emptyModule = fileURLToPath(new URL('./fixtures/startup-empty.mjs', import.meta.url));
const heavy = [
  'internal/deps/undici/undici',
  'http',
  'https',
  'http2',
  'tls',
  'crypto',
  'internal/fs/streams',
];

async function builtinsLoaded(script: string, options: object = {}): Promise<string[]> {
  const { stdout } = await run(process.execPath, [script, JSON.stringify(options)]);
  return JSON.parse(stdout) as string[];
}

let loadedByEmptyModule: Set<string>;

/** The built-ins `script` loaded that an empty ES module does not. */
async function builtinsLoadedAtStart(script: string, options: object): Promise<string[]> {
  return (await builtinsLoaded(script, options)).filter((name) => !loadedByEmptyModule.has(name));
}

const kernel = { service: 'cold', logging: { level: 'silent' } };
const telemetry = {
  ...kernel,
  telemetry: {
    tracing: { exporter: 'otlp', endpoint: 'http://127.0.0.1:4318/v1/traces' },
    metrics: { exporter: 'emf' },
  },
};

describe('built-in modules loaded at start', () => {
  let bundleDir: string;
  let bundle: string;

  beforeAll(async () => {
    expect(
      existsSync(fileURLToPath(new URL('../dist/esm/index.js', import.meta.url))),
      'run `pnpm build` first',
    ).toBe(true);
    loadedByEmptyModule = new Set(await builtinsLoaded(emptyModule));
    bundleDir = mkdtempSync(join(tmpdir(), 'sidecarless-startup-'));
    bundle = join(bundleDir, 'function.mjs');
    await build({
      entryPoints: [fixture],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      outfile: bundle,
      logLevel: 'error',
      // pino is CommonJS: an ES-module bundle needs a require() for its built-ins.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
  });

  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  it('the kernel from the built package loads none of the heavy ones', async () => {
    // The tracing case below shows the check sees what a start loads (node:http there).
    const loaded = await builtinsLoadedAtStart(fixture, kernel);
    expect(loaded.filter((name) => heavy.includes(name))).toEqual([]);
  });

  it('the kernel bundled into one ES module, with every feature inlined, loads none of them', async () => {
    const loaded = await builtinsLoadedAtStart(bundle, kernel);
    expect(loaded.filter((name) => heavy.includes(name))).toEqual([]);
  });

  it('tracing to an OTLP/HTTP endpoint loads node:http (its transport) but not Fetch, TLS or crypto', async () => {
    for (const script of [fixture, bundle]) {
      const loaded = await builtinsLoadedAtStart(script, telemetry);
      expect(loaded).toContain('http');
      expect(loaded.filter((name) => heavy.includes(name) && name !== 'http')).toEqual([]);
    }
  });
});
