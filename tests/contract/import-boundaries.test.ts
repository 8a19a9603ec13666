/**
 * The import boundaries of DESIGN.md are enforced by `pnpm check` (biome's noRestrictedImports
 * per package and noImportCycles, configured in biome.json). These cases lint small files laid
 * out like the repo, in a scratch directory, with the repo's own biome.json: each boundary must
 * be refused, and the imports the layout relies on must pass, so the rules cannot be switched off
 * or widened without a test failing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const biome = join(repo, 'node_modules', '.bin', 'biome');
const scratch = mkdtempSync(join(tmpdir(), 'scl-boundaries-'));

// The repo's configuration minus the git integration (the scratch directory is not a repository).
const config = JSON.parse(readFileSync(join(repo, 'biome.json'), 'utf8')) as Record<string, unknown>;
delete config.vcs;
delete config.$schema;

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Diagnostic {
  category: string;
  message: string;
  location: { path: string; start: { line: number } };
}

let caseNumber = 0;

/** Lints `files` (path → source) in a fresh subtree; returns the import diagnostics by file and line. */
function lint(files: Record<string, string>): string[] {
  // Each case is a root of its own: the overrides' paths are relative to biome.json.
  const root = join(scratch, `case-${++caseNumber}`);
  mkdirSync(root);
  writeFileSync(join(root, 'biome.json'), JSON.stringify(config));
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), source);
  }
  const child = spawnSync(biome, ['lint', '--reporter=json', '--max-diagnostics=100', '.'], {
    cwd: root,
    encoding: 'utf8',
  });
  const report = JSON.parse(child.stdout) as { diagnostics: Diagnostic[] };
  return report.diagnostics
    .filter((d) => /noRestrictedImports|noImportCycles/.test(d.category))
    .map((d) => {
      const rule = d.category.split('/').pop();
      return `${d.location.path}:${d.location.start.line} ${rule}`;
    })
    .sort();
}

const importing = (...specifiers: string[]): string =>
  `${specifiers.map((s) => `import '${s}';`).join('\n')}\nexport {};\n`;

describe('import boundaries (pnpm check)', () => {
  it('the kernel imports no feature, no adapter and no other package by path', () => {
    expect(
      lint({
        'packages/core/src/mesh.ts': importing(
          '@sidecarless/auth',
          '@sidecarless/lambda',
          '../../outbound/src/upstream.ts',
          '@sidecarless/core/feature',
          './options.ts',
        ),
        'packages/core/src/options.ts': 'export {};\n',
      }),
    ).toEqual([
      'packages/core/src/mesh.ts:1 noRestrictedImports',
      'packages/core/src/mesh.ts:2 noRestrictedImports',
      'packages/core/src/mesh.ts:3 noRestrictedImports',
    ]);
  });

  it('an adapter imports the kernel and its adapter kit, never a feature or another adapter', () => {
    expect(
      lint({
        'packages/lambda/src/adapter.ts': importing(
          '@sidecarless/core',
          '@sidecarless/core/adapter',
          '@sidecarless/lambda',
          '@sidecarless/telemetry',
          '@sidecarless/openfaas',
          '@sidecarless/testing',
        ),
      }),
    ).toEqual([
      'packages/lambda/src/adapter.ts:4 noRestrictedImports',
      'packages/lambda/src/adapter.ts:5 noRestrictedImports',
      'packages/lambda/src/adapter.ts:6 noRestrictedImports',
    ]);
  });

  it('a feature imports the kernel and itself, not another feature or an adapter', () => {
    expect(
      lint({
        'packages/outbound/src/upstream.ts': importing(
          '@sidecarless/core/feature',
          '@sidecarless/outbound/http',
          '@sidecarless/auth',
          '@sidecarless/knative',
          '../../telemetry/src/tracer.ts',
        ),
      }),
    ).toEqual([
      'packages/outbound/src/upstream.ts:3 noRestrictedImports',
      'packages/outbound/src/upstream.ts:4 noRestrictedImports',
      'packages/outbound/src/upstream.ts:5 noRestrictedImports',
    ]);
  });

  it('tests beside the source may use the private testing package', () => {
    expect(
      lint({ 'packages/auth/src/jwt.test.ts': importing('@sidecarless/testing', '@sidecarless/core') }),
    ).toEqual([]);
  });

  it('examples and benches import packages, not their files', () => {
    expect(
      lint({
        'examples/orders/handler.ts': importing('../../packages/auth/src/jwt.ts', '@sidecarless/auth'),
        'bench/x.bench.ts': importing('../packages/core/dist/esm/mesh.js'),
      }),
    ).toEqual(['bench/x.bench.ts:1 noRestrictedImports', 'examples/orders/handler.ts:1 noRestrictedImports']);
  });

  it('an import cycle is refused, type-only imports included', () => {
    expect(
      lint({
        'packages/telemetry/src/a.ts': "import { b } from './b.ts';\nexport const a = b;\n",
        'packages/telemetry/src/b.ts':
          "import type { a } from './a.ts';\nexport const b = 1 as unknown as typeof a;\n",
      }),
    ).toEqual([
      'packages/telemetry/src/a.ts:1 noImportCycles',
      'packages/telemetry/src/b.ts:1 noImportCycles',
    ]);
  });
});
