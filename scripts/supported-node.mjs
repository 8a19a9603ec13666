#!/usr/bin/env node
/**
 * Runs a shell command with a supported Node (22 or newer) first on PATH, so the README's set-up
 * commands work on a machine whose own `node` is older (Debian's and many CI images ship Node 20).
 *
 *   node scripts/supported-node.mjs '<command>' [args...]   # runs `sh -c '<command> "$@"'`
 *   node scripts/supported-node.mjs --install               # only makes sure the Node is there
 *
 * On Node 22 or newer it changes nothing. On an older Node it installs `node@22` from the npm
 * registry once (a few seconds; into $SIDECARLESS_NODE_DIR, by default
 * ~/.cache/sidecarless/node22) and puts it first on PATH for the command, so `vitest`, the build and
 * the demo's child processes all run on it. This file itself must keep running on Node 18 and 20:
 * plain ESM, no newer APIs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

const supportedMajor = 22;
const runningMajor = Number(process.versions.node.split('.')[0]);

/** The directory holding a supported `node` binary, installing one when the running Node is older. */
function supportedNodeBin() {
  if (runningMajor >= supportedMajor) return dirname(process.execPath);
  const prefix =
    process.env.SIDECARLESS_NODE_DIR || join(homedir(), '.cache', 'sidecarless', `node${supportedMajor}`);
  const bin = join(prefix, 'node_modules', '.bin');
  if (existsSync(join(bin, 'node'))) return bin;
  console.error(
    `Node ${process.versions.node} is older than the supported ${supportedMajor}; installing node@${supportedMajor} ` +
      `from the npm registry into ${prefix} (once)`,
  );
  mkdirSync(prefix, { recursive: true });
  const install = spawnSync(
    'npm',
    ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', `node@${supportedMajor}`],
    { stdio: 'inherit' },
  );
  if (install.status !== 0 || !existsSync(join(bin, 'node'))) {
    console.error(
      `could not install node@${supportedMajor} (npm ${install.error ? install.error.message : `exit ${install.status}`}); ` +
        `install Node ${supportedMajor} or 24 and put it first on PATH`,
    );
    process.exit(1);
  }
  return bin;
}

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error("usage: node scripts/supported-node.mjs '<command>' [args...] | --install");
  process.exit(2);
}
const bin = supportedNodeBin();
const env = { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH ?? ''}` };

if (command === '--install') {
  const version = spawnSync('node', ['--version'], { env, encoding: 'utf8' });
  console.log(`supported Node: ${version.stdout.trim()} (${bin})`);
  process.exit(version.status ?? 1);
}

// `"$@"` hands the extra arguments (`pnpm test path/to/file.test.ts`) to the command's last word.
const child = spawn('sh', ['-c', `${command} "$@"`, 'sh', ...args], { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  if (signal) {
    // Die of the same signal, so the caller (pnpm, CI) sees what happened to the command.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code ?? 1);
});
