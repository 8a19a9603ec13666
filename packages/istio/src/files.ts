/**
 * The YAML behind `istio.files`, read as one consistent snapshot, and a watcher that says when it
 * may have changed.
 *
 * A mounted ConfigMap is a directory of `key -> ..data/key` symlinks, with
 * `..data -> ..2026_12_04_18_00_00.123456789/`. The kubelet updates it by writing a new
 * timestamped directory, pointing a new symlink at it and renaming that over `..data` (atomic),
 * then deleting the old directory. Reading each key through its symlink could mix two versions
 * when the swap lands between two reads, so a directory with `..data` is read through the
 * directory `..data` resolves to, once: every file of one version. Files are still named by the
 * path the user gave (`/etc/mesh/mesh-policy.yaml`), as the loader's messages show them.
 */
import type { FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { nodeBuiltin } from '@sidecarless/core/feature';
import { ResourceError } from './documents.js';

/** One file's name and contents, as `loadIstio` takes them. */
export interface YamlFile {
  readonly path: string;
  readonly text: string;
}

const yamlName = /\.ya?ml$/;

/**
 * Reads every file given and every `*.yaml`/`*.yml` of every directory given (dot-entries
 * skipped), in a stable order. Throws a `ResourceError` for a path that does not exist or a
 * configuration with no YAML at all: an empty mount must not read as "no policy".
 */
export async function readYamlFiles(paths: readonly string[]): Promise<YamlFile[]> {
  const fs = nodeBuiltin('node:fs').promises;
  const out: YamlFile[] = [];
  for (const path of paths) {
    let isDirectory: boolean;
    try {
      isDirectory = (await fs.stat(path)).isDirectory();
    } catch (error) {
      throw new ResourceError(`${path}: ${describeFsError(error)}`);
    }
    if (!isDirectory) {
      out.push({ path, text: await readText(path) });
      continue;
    }
    out.push(...(await readDirectory(path)));
  }
  if (out.length === 0)
    throw new ResourceError(
      `${paths.join(', ')}: no .yaml files; an empty configuration would drop every policy, so it is refused`,
    );
  return out;
}

/** A directory's YAML files; a ConfigMap's through one resolution of `..data`, retried once if the kubelet deletes it under us. */
async function readDirectory(directory: string, attempt = 0): Promise<YamlFile[]> {
  const fs = nodeBuiltin('node:fs').promises;
  let base = directory;
  try {
    base = await fs.realpath(join(directory, '..data'));
  } catch {
    // Not a ConfigMap mount: read the directory itself.
  }
  try {
    const entries = (await fs.readdir(base)).filter((name) => !name.startsWith('.') && yamlName.test(name));
    entries.sort();
    const files: YamlFile[] = [];
    for (const name of entries)
      files.push({ path: join(directory, name), text: await readText(join(base, name)) });
    return files;
  } catch (error) {
    // The version we resolved was swapped out and deleted between two reads: read the new one.
    if (base !== directory && attempt < 3 && (error as NodeJS.ErrnoException).code === 'ENOENT')
      return readDirectory(directory, attempt + 1);
    throw error instanceof ResourceError
      ? error
      : new ResourceError(`${directory}: ${describeFsError(error)}`);
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await nodeBuiltin('node:fs').promises.readFile(path, 'utf8');
  } catch (error) {
    throw new ResourceError(`${path}: ${describeFsError(error)}`);
  }
}

function describeFsError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}

/** A stable key for a snapshot: equal keys, equal configuration. */
export function snapshotKey(files: readonly YamlFile[]): string {
  return JSON.stringify(files.map((file) => [file.path, file.text]));
}

/** What {@link watchFiles} returns. */
export interface FilesWatch {
  /** `watch` (inotify and the like) or `poll`, when the platform refused a watch. */
  readonly mode: 'watch' | 'poll';
  close(): void;
}

/**
 * Calls `changed` (debounced: once, `debounceMs` after the last event) whenever something in the
 * directories behind `paths` changes. Directories are watched rather than files: the kubelet's
 * `..data` swap and an editor's write-to-temp-then-rename both replace the file a watch on the
 * file itself would follow into deletion, while the directory sees every rename. Events are only
 * a hint — the caller re-reads and compares — so a burst of them costs one read.
 *
 * When the platform refuses a watch (no inotify instances left, a file system without events),
 * it polls every `pollMs` instead: reading a few small files and comparing them costs far less
 * than a missed policy change. Neither the watches nor the timers keep the process alive.
 */
export function watchFiles(
  paths: readonly string[],
  changed: () => void,
  options: {
    readonly debounceMs: number;
    readonly pollMs: number;
    readonly onWatchError?: (error: unknown) => void;
  },
): FilesWatch {
  const fs = nodeBuiltin('node:fs');
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  let closed = false;
  const watchers: FSWatcher[] = [];
  const soon = () => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) changed();
    }, options.debounceMs);
    timer.unref();
  };
  const directories = new Set<string>();
  for (const path of paths) {
    let isDirectory = false;
    try {
      isDirectory = fs.statSync(path).isDirectory();
    } catch {
      // Gone for now: watch where it would appear.
    }
    directories.add(isDirectory ? path : dirname(path));
  }
  const fallBack = (error: unknown) => {
    if (closed || poll !== undefined) return;
    options.onWatchError?.(error);
    for (const watcher of watchers.splice(0)) watcher.close();
    poll = setInterval(changed, options.pollMs);
    poll.unref();
    state.mode = 'poll';
  };
  const state: { mode: 'watch' | 'poll'; close(): void } = {
    mode: 'watch',
    close: () => {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      if (poll !== undefined) clearInterval(poll);
      for (const watcher of watchers.splice(0)) watcher.close();
    },
  };
  for (const directory of directories) {
    try {
      // persistent: false — the watch never keeps the process alive (like unref()).
      const watcher = fs.watch(directory, { persistent: false }, soon);
      watcher.on('error', fallBack);
      watchers.push(watcher);
    } catch (error) {
      fallBack(error);
      break;
    }
  }
  return state;
}
