/**
 * Cold start: a fresh Node process that imports @sidecarless/core, creates a mesh and runs its
 * first invocation, vs a bare `node -e` process — from node_modules and as one esbuild bundle
 * (what users deploy). Wall time and peak RSS, medians over interleaved runs; import, init and
 * the first invocation reported separately.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { deployedBundle, median, printTable } from './lib.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
const tmp = join(here, '..', '.bench-tmp');
mkdirSync(tmp, { recursive: true });

const report = `
  const rss = process.resourceUsage().maxRSS;
  process.stdout.write(JSON.stringify({ importMs: t1 - t0, initMs: t2 - t1, firstMs: t3 - t2, rssKb: rss }));`;
const coreEntry = join(here, 'cold-start-entry.mjs');
writeFileSync(
  coreEntry,
  `const t0 = performance.now();
const core = await import('@sidecarless/core');
const local = await import('@sidecarless/core/local');
const t1 = performance.now();
const mesh = core.createMesh({ service: 'cold', logging: { level: 'silent' } });
const t2 = performance.now();
await local.invoke(mesh, () => new Response('ok'), 'http://localhost/');
const t3 = performance.now();
${report}
`,
);
const bareEntry = join(tmp, 'bare.mjs');
writeFileSync(bareEntry, `const t0 = performance.now(), t1 = t0, t2 = t0, t3 = t0;${report}`);
const bundled = join(tmp, 'core-bundle.mjs');
// The kernel alone: no feature package is imported, so none is bundled (the per-feature rows are
// in bench/realistic-function.bench.ts).
await build({ ...deployedBundle('esm'), entryPoints: [coreEntry], outfile: bundled });

interface Sample {
  wallMs: number;
  importMs: number;
  initMs: number;
  firstMs: number;
  rssKb: number;
}

function runOnce(file: string): Sample {
  const started = performance.now();
  const child = spawnSync(process.execPath, [file], { cwd: here, encoding: 'utf8' });
  const wallMs = performance.now() - started;
  if (child.status !== 0) throw new Error(`${file} failed: ${child.stderr}`);
  return { wallMs, ...(JSON.parse(child.stdout) as Omit<Sample, 'wallMs'>) };
}

const candidates = [
  { name: 'bare node process', file: bareEntry },
  { name: '@sidecarless/core from node_modules', file: coreEntry },
  { name: '@sidecarless/core bundled (esbuild, minified)', file: bundled },
];
const runs = 15;
const samples = candidates.map(() => [] as Sample[]);
for (let i = 0; i < runs; i++) {
  for (const [index, candidate] of candidates.entries()) samples[index]!.push(runOnce(candidate.file));
}
const bareWall = median(samples[0]!.map((s) => s.wallMs));
const bareRss = median(samples[0]!.map((s) => s.rssKb));
printTable(
  `Cold start (median of ${runs} interleaved runs, Node ${process.version})`,
  ['process', 'wall', 'vs bare', 'import', 'createMesh', 'first invoke', 'peak RSS', 'RSS vs bare'],
  candidates.map((candidate, index) => {
    const s = samples[index]!;
    const wall = median(s.map((x) => x.wallMs));
    const rss = median(s.map((x) => x.rssKb));
    return [
      candidate.name,
      `${wall.toFixed(1)} ms`,
      `+${(wall - bareWall).toFixed(1)} ms`,
      `${median(s.map((x) => x.importMs)).toFixed(2)} ms`,
      `${median(s.map((x) => x.initMs)).toFixed(2)} ms`,
      `${median(s.map((x) => x.firstMs)).toFixed(2)} ms`,
      `${(rss / 1024).toFixed(1)} MB`,
      `+${((rss - bareRss) / 1024).toFixed(1)} MB`,
    ];
  }),
);
