/**
 * Runs the built `sidecarless` command as a user does: `node` from PATH, in a child process,
 * stdout and stderr piped (so not a terminal), the exit code kept.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const bin = fileURLToPath(new URL('../dist/esm/bin.js', import.meta.url));
export const handlerPath = (name: string) => fileURLToPath(new URL(`./handlers/${name}`, import.meta.url));
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function sidecarless(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  // Plain output unless a test asks otherwise; FORCE_COLOR is left out (Node warns when both are set).
  const merged: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: undefined, ...env };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return new Promise((resolve) => {
    execFile(
      'node',
      [bin, ...args],
      { env: merged, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
