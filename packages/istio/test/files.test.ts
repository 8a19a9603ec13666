/**
 * Reading and watching the files on the real file system: a ConfigMap volume read as one version,
 * and the poll the watcher falls back to when the platform refuses a watch.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configMapVolume } from '@sidecarless/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { readYamlFiles, watchFiles } from '../src/files.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe('readYamlFiles', () => {
  it('reads a ConfigMap volume through ..data, naming files by their visible path', async () => {
    const volume = configMapVolume({ 'b.yaml': 'kind: B', 'a.yml': 'kind: A', 'notes.txt': 'not yaml' });
    cleanups.push(volume.remove);
    expect(await readYamlFiles([volume.dir])).toEqual([
      { path: join(volume.dir, 'a.yml'), text: 'kind: A' },
      { path: join(volume.dir, 'b.yaml'), text: 'kind: B' },
    ]);
    volume.update({ 'a.yml': 'kind: A2' });
    expect(await readYamlFiles([volume.dir])).toEqual([
      { path: join(volume.dir, 'a.yml'), text: 'kind: A2' },
    ]);
  });

  it('refuses a missing path and a configuration with no YAML at all', async () => {
    await expect(readYamlFiles(['/nonexistent/mesh'])).rejects.toThrow(
      '/nonexistent/mesh: no such file or directory',
    );
    const empty = mkdtempSync(join(tmpdir(), 'sidecarless-empty-'));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    writeFileSync(join(empty, 'README'), 'no yaml here');
    await expect(readYamlFiles([empty])).rejects.toThrow(
      /no \.yaml files; an empty configuration would drop every policy/,
    );
  });
});

describe('watchFiles', () => {
  it('polls when the platform refuses a watch, and stops at close()', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    // A directory that does not exist cannot be watched: fs.watch throws ENOENT.
    const watch = watchFiles(['/nonexistent/mesh/policy.yaml'], () => calls++, {
      debounceMs: 10,
      pollMs: 20,
      onWatchError: (error) => errors.push(error),
    });
    expect(watch.mode).toBe('poll');
    expect(errors).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 110));
    expect(calls).toBeGreaterThanOrEqual(3);
    watch.close();
    const after = calls;
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls).toBe(after);
  });

  it('folds a burst of events into one call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sidecarless-burst-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    let calls = 0;
    const watch = watchFiles([dir], () => calls++, { debounceMs: 100, pollMs: 1_000 });
    cleanups.push(() => watch.close());
    expect(watch.mode).toBe('watch');
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${i}.yaml`), `n: ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls).toBe(1);
  });
});
