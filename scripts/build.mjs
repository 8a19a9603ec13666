#!/usr/bin/env node
// Builds every publishable @sidecarless/* package, dependencies first:
//   1. tsc (type-checked, NodeNext) emits ESM + declarations into dist/esm;
//   2. esbuild re-emits each ESM file as CommonJS into dist/cjs, module by module (no bundling,
//      so lazily imported features stay lazy: `import()` becomes a deferred `require()`);
//   3. the declarations are copied beside the CommonJS files, and dist/cjs/package.json marks
//      that folder as CommonJS so Node and TypeScript read both as CJS.
// CommonJS matters: Lambda's nodejs22.x runs with require(esm) off, and OpenFaaS/Kubeless
// handlers are usually CommonJS.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const packagesDir = join(root, 'packages');

function readPackages() {
  const result = new Map();
  for (const dir of readdirSync(packagesDir)) {
    const manifestPath = join(packagesDir, dir, 'package.json');
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (manifest.private) continue;
    result.set(manifest.name, { dir: join(packagesDir, dir), manifest });
  }
  return result;
}

function buildOrder(packages) {
  const order = [];
  const seen = new Set();
  const visit = (name, trail) => {
    if (seen.has(name)) return;
    if (trail.includes(name)) throw new Error(`dependency cycle: ${[...trail, name].join(' -> ')}`);
    const pkg = packages.get(name);
    const deps = {
      ...pkg.manifest.dependencies,
      ...pkg.manifest.peerDependencies,
      ...pkg.manifest.devDependencies,
    };
    for (const dep of Object.keys(deps)) if (packages.has(dep)) visit(dep, [...trail, name]);
    seen.add(name);
    order.push(name);
  };
  for (const name of [...packages.keys()].sort()) visit(name, []);
  return order;
}

function* walk(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

function buildPackage({ dir, manifest }) {
  const started = performance.now();
  const dist = join(dir, 'dist');
  rmSync(dist, { recursive: true, force: true });
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', dir], {
    stdio: 'inherit',
  });
  if (tsc.status !== 0) throw new Error(`tsc failed for ${manifest.name}`);

  const esm = join(dist, 'esm');
  const cjs = join(dist, 'cjs');
  mkdirSync(cjs, { recursive: true });
  for (const file of walk(esm)) {
    const target = join(cjs, relative(esm, file));
    mkdirSync(join(target, '..'), { recursive: true });
    if (file.endsWith('.d.ts') || file.endsWith('.d.ts.map')) {
      cpSync(file, target);
    } else if (file.endsWith('.js')) {
      const out = transformSync(readFileSync(file, 'utf8'), {
        format: 'cjs',
        platform: 'node',
        target: 'node22',
        sourcefile: relative(esm, file),
      });
      writeFileSync(target, out.code);
    }
  }
  writeFileSync(join(cjs, 'package.json'), '{ "type": "commonjs" }\n');
  writeFileSync(join(esm, 'package.json'), '{ "type": "module" }\n');
  console.log(`built ${manifest.name} in ${Math.round(performance.now() - started)} ms`);
}

const packages = readPackages();
const only = process.argv.slice(2);
for (const name of buildOrder(packages)) {
  if (only.length > 0 && !only.includes(name)) continue;
  buildPackage(packages.get(name));
}
