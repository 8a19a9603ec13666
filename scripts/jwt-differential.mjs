#!/usr/bin/env node
// The JWT differential run against jose, longer than CI's fixed 5,000 cases:
//   node scripts/jwt-differential.mjs --seed 7 --cases 100000
// Runs packages/auth/test/jose-differential.test.ts with that seed and count (through vitest,
// which resolves the workspace's TypeScript sources) and exits with its status.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    cases: { type: 'string', default: '50000' },
  },
});
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const result = spawnSync(
  process.execPath,
  [join(root, 'node_modules/vitest/vitest.mjs'), 'run', 'packages/auth/test/jose-differential.test.ts'],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, JWT_DIFFERENTIAL_SEED: values.seed, JWT_DIFFERENTIAL_CASES: values.cases },
  },
);
process.exit(result.status ?? 1);
