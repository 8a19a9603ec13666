/**
 * `pnpm bench`: runs every `bench/*.bench.ts` in its own Node process (so one benchmark's
 * warm JIT and heap do not colour the next), one after another, and lets each print its tables.
 * `pnpm bench overhead` runs only the files whose name contains "overhead".
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();

console.log(`# Sidecarless benchmarks — Node ${process.version}, ${new Date().toISOString()}`);
let failed = 0;
for (const file of files) {
  console.log(`\n## ${file}`);
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, file)], {
    stdio: 'inherit',
    cwd: here,
  });
  if (result.status !== 0) {
    failed++;
    console.error(`${file} exited with ${result.status}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
