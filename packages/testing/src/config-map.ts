/**
 * A ConfigMap volume as the kubelet lays it out and updates it (its AtomicWriter): each key is a
 * symlink `key -> ..data/key`, `..data` a symlink to a timestamped directory holding this
 * version's files. An update writes a new timestamped directory, points `..data_tmp` at it,
 * renames `..data_tmp` over `..data` (the atomic step), fixes the key links, and deletes the old
 * directory. Real files and real renames, on the real file system.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ConfigMapVolume {
  readonly dir: string;
  /** Publishes a new version of the ConfigMap's data, as the kubelet does. */
  update(data: Readonly<Record<string, string>>): void;
  remove(): void;
}

let sequence = 0;

function timestamped(): string {
  // ..2026_12_04_18_00_00.123456789, unique within the test run.
  const now = new Date();
  const pad = (value: number) => String(value).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}_${pad(now.getUTCMonth() + 1)}_${pad(now.getUTCDate())}_${pad(now.getUTCHours())}_${pad(now.getUTCMinutes())}_${pad(now.getUTCSeconds())}`;
  sequence++;
  return `..${stamp}.${String(process.hrtime.bigint() % 1_000_000_000n).padStart(9, '0')}${sequence}`;
}

/**
 * Makes a ConfigMap volume in a new temporary directory, holding `data` (file name → text).
 *
 * @example
 * ```ts
 * import { configMapVolume } from '@sidecarless/testing';
 *
 * const volume = configMapVolume({ 'policy.yaml': 'kind: AuthorizationPolicy…' });
 * volume.update({ 'policy.yaml': 'kind: AuthorizationPolicy… (tightened)' }); // as the kubelet swaps it
 * volume.remove();
 * ```
 */
export function configMapVolume(data: Readonly<Record<string, string>>): ConfigMapVolume {
  const dir = mkdtempSync(join(tmpdir(), 'sidecarless-configmap-'));
  let current: string | undefined;
  const update = (next: Readonly<Record<string, string>>) => {
    const version = timestamped();
    mkdirSync(join(dir, version));
    for (const [key, text] of Object.entries(next)) writeFileSync(join(dir, version, key), text);
    symlinkSync(version, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    const keys = new Set(Object.keys(next));
    for (const entry of readdirSync(dir))
      if (!entry.startsWith('.') && !keys.has(entry)) unlinkSync(join(dir, entry));
    for (const key of keys) {
      try {
        symlinkSync(join('..data', key), join(dir, key));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    if (current !== undefined) rmSync(join(dir, current), { recursive: true });
    current = version;
  };
  update(data);
  return { dir, update, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
