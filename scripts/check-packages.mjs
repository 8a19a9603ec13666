#!/usr/bin/env node
// Checks the published shape of every public package: publint (exports map, files, types) and
// are-the-types-wrong (types resolve for ESM and CommonJS consumers under node16 and bundlers).
// Run after `node scripts/build.mjs`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
let failed = false;
for (const dir of readdirSync(join(root, 'packages'))) {
  const packageDir = join(root, 'packages', dir);
  const manifestPath = join(packageDir, 'package.json');
  if (!existsSync(manifestPath)) continue;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (manifest.private) continue;
  console.log(`\n== ${manifest.name}`);
  for (const [cmd, args] of [
    [bin('publint'), ['run', '--strict', packageDir]],
    [bin('attw'), ['--pack', packageDir, '--profile', 'node16', '--format', 'table-flipped']],
  ]) {
    const result = spawnSync(cmd, args, { stdio: 'inherit', cwd: packageDir });
    if (result.status !== 0) failed = true;
  }
}
if (failed) {
  console.error('\npackage shape checks failed');
  process.exit(1);
}
