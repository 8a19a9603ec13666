/**
 * `sidecarless cost HANDLER_FILE`: what the handler costs a cold start, and which package it
 * comes from. The handler is bundled as SAM's esbuild builder does (one minified CommonJS file,
 * platform node, target node22, `@aws-sdk/*` left to the runtime), the bundle's bytes are
 * attributed to packages from esbuild's metafile, and fresh Node processes measure import (process
 * start to module loaded) and the first invocation, against a bare handler bundled the same way.
 * Each feature package is also bundled alone (a probe importing what the handler imports from
 * it) and timed the same way. Runs are interleaved round by round and reported as medians: these
 * figures move ±30% on a busy machine, so compare them within one run.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import type { BuildOptions, Metafile } from 'esbuild';
import { parse } from './args.js';
import { eventNames } from './events.js';
import { eventFrom, functionNameOf, handlerFile, timeoutFrom } from './invoke.js';
import { lambdaEnvironment } from './lambda-context.js';
import type { RunResult, RunSpec } from './runner.js';
import { runInChild } from './spawn-runner.js';
import { type Paint, painter, table, UsageError, visible } from './terminal.js';

export const costUsage = `Usage: sidecarless cost HANDLER_FILE [--export NAME] [--event NAME|FILE.json] [--runs N] [--json]

Bundles the Lambda handler as SAM's esbuild builder does (esbuild: bundle, minify, one CommonJS
file, platform node, target node22, @aws-sdk/* external) and prints, per package, the bundle KB
(from esbuild's metafile) and — for each @sidecarless package, bundled alone — the import ms it
adds to a bare process; then, for the whole handler, import ms (a fresh node process, from
process start to the module loaded) and first-invocation ms (the first call, with a realistic
event), medians over N runs, against a bare handler bundled the same way.

  --export NAME      the handler's export (default handler)
  --event NAME|FILE  the first invocation's event: ${eventNames.join(', ')} (default api-gw-v2)
  --runs N           fresh processes per measurement (default 5)
  --timeout SECONDS  the function's timeout for the first invocation (default 3)
  --json             one JSON document instead of the table

Examples:
  sidecarless cost src/orders.ts --export api
  sidecarless cost dist/handler.js --runs 15 --json > cost.json`;

const options = {
  export: { type: 'string' },
  event: { type: 'string' },
  runs: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
} as const;

type Esbuild = typeof import('esbuild');

/** SAM's esbuild builder (`BuildMethod: esbuild`) with `Minify: true`, `Target: node22`, `Format: cjs`. */
const samOptions = {
  bundle: true,
  minify: true,
  format: 'cjs',
  platform: 'node',
  target: 'node22',
  external: ['@aws-sdk/*'],
} as const satisfies BuildOptions;

function samBuild(outfile: string): BuildOptions {
  return {
    ...samOptions,
    external: [...samOptions.external],
    outfile,
    metafile: true,
    logLevel: 'silent',
    write: true,
  };
}

// A handler without the mesh, as one writes it by hand: the same work on the same event.
const bareSource = `export const handler = async (event) => {
  const order = JSON.parse(event.body ?? '{}');
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: order.sku }) };
};
`;

async function bundle(esbuild: Esbuild, options: BuildOptions, what: string): Promise<Metafile> {
  try {
    const result = await esbuild.build(options);
    return result.metafile!;
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number } | null }[] })
      .errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new UsageError(`esbuild cannot bundle ${what}: ${first?.text ?? (error as Error).message}${where}`);
  }
}

interface PackageRow {
  name: string;
  kind: 'handler' | 'sidecarless' | 'dependency' | 'runtime';
  bytes: number;
  /** For a dependency: the @sidecarless packages (or the handler) whose imports bring it in. */
  pulledInBy: string[];
  /**
   * For a @sidecarless package: the ms a bundle of only what the handler imports from it takes to
   * load (its `require()`), over the bare handler's (median of per-round differences).
   */
  importMs?: number;
}

/** The name of the package a file belongs to: the nearest package.json that has a name. */
function packageResolver(): (file: string) => string | undefined {
  const cache = new Map<string, string | undefined>();
  const lookup = (dir: string): string | undefined => {
    if (cache.has(dir)) return cache.get(dir);
    let name: string | undefined;
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
        if (typeof parsed.name === 'string') name = parsed.name;
      } catch {
        // A broken package.json names nothing; look further up.
      }
    }
    const parent = dirname(dir);
    if (name === undefined && parent !== dir) name = lookup(parent);
    cache.set(dir, name);
    return name;
  };
  return (file) => lookup(dirname(file));
}

const handlerLabel = 'the handler';

/**
 * Bytes per package, and who pulls each dependency in; plus what to probe per @sidecarless package:
 * `import <specifier>` or `require <specifier>`, as the bundle's other packages reach it.
 */
function attribute(
  metafile: Metafile,
  workingDir: string,
  handlerPackage: string | undefined,
): { rows: PackageRow[]; total: number; specifiers: Map<string, Set<string>> } {
  const packageOf = packageResolver();
  const output =
    Object.values(metafile.outputs).find((entry) => entry.entryPoint !== undefined) ??
    Object.values(metafile.outputs)[0]!;
  const ownerOf = (input: string): string => {
    if (input.startsWith('<stdin>')) return handlerLabel;
    const name = packageOf(resolve(workingDir, input));
    return name === undefined || name === handlerPackage ? handlerLabel : name;
  };
  const bytes = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const owner = ownerOf(input);
    bytes.set(owner, (bytes.get(owner) ?? 0) + bytesInOutput);
  }
  // Which packages import which, and with what specifier (for the probes).
  const importers = new Map<string, Set<string>>();
  const specifiers = new Map<string, Set<string>>();
  for (const [input, { imports }] of Object.entries(metafile.inputs)) {
    const from = ownerOf(input);
    for (const imported of imports) {
      if (imported.external || !(imported.path in metafile.inputs)) continue;
      const to = ownerOf(imported.path);
      if (to === from) continue;
      const set = importers.get(to) ?? new Set();
      set.add(from);
      importers.set(to, set);
      if (
        to.startsWith('@sidecarless/') &&
        imported.original !== undefined &&
        imported.kind !== 'dynamic-import'
      ) {
        // The way it was imported picks the build (the `import` or the `require` condition).
        const wanted = specifiers.get(to) ?? new Set();
        wanted.add(`${imported.kind === 'require-call' ? 'require' : 'import'} ${imported.original}`);
        specifiers.set(to, wanted);
      }
    }
  }
  const isOurs = (name: string) => name === handlerLabel || name.startsWith('@sidecarless/');
  const pulledInBy = (name: string): string[] => {
    const found = new Set<string>();
    const seen = new Set([name]);
    const queue = [name];
    while (queue.length > 0) {
      for (const importer of importers.get(queue.shift()!) ?? []) {
        if (seen.has(importer)) continue;
        seen.add(importer);
        if (isOurs(importer)) found.add(importer);
        else queue.push(importer);
      }
    }
    return [...found].sort();
  };
  const rows: PackageRow[] = [...bytes].map(([name, size]) => ({
    name,
    kind: name === handlerLabel ? 'handler' : name.startsWith('@sidecarless/') ? 'sidecarless' : 'dependency',
    bytes: size,
    pulledInBy: isOurs(name) ? [] : pulledInBy(name),
  }));
  const attributed = [...bytes.values()].reduce((sum, size) => sum + size, 0);
  if (output.bytes > attributed)
    rows.push({
      name: "esbuild's module wrappers",
      kind: 'runtime',
      bytes: output.bytes - attributed,
      pulledInBy: [],
    });
  return { rows, total: output.bytes, specifiers };
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/** One bundle measured: its samples, one per round (index = round, so rounds pair up). */
interface Variant {
  readonly name: string;
  readonly file: string;
  readonly loadOnly: boolean;
  /** Process start to module loaded. */
  readonly importMs: number[];
  /** The `require()` of the bundle alone. */
  readonly loadMs: number[];
  readonly invokeMs: number[];
  failure?: string;
}

/** Median of the per-round differences `a − b`: pairs cancel what a busy machine adds to both. */
const pairedMedian = (a: readonly number[], b: readonly number[]) =>
  median(a.map((value, round) => value - (b[round] ?? Number.NaN)).filter(Number.isFinite));

/** Half the interquartile range: how far a sample typically strays from the median. */
function spread(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))]!;
  return (at(0.75) - at(0.25)) / 2;
}

interface Figures {
  bytes: number;
  importMs: number;
  loadMs: number;
  invokeMs: number;
}

const kb = (bytes: number) => (bytes / 1024).toFixed(1);
const ms = (value: number | undefined) => (value === undefined ? '' : value.toFixed(1));
const signed = (value: number, digits = 1) => `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;

/** The package rows in reading order: the handler, each @sidecarless package, each dependency under the first package that pulls it in. */
function ordered(rows: readonly PackageRow[]): { row: PackageRow; depth: number; also: string[] }[] {
  const bySize = (a: PackageRow, b: PackageRow) => b.bytes - a.bytes;
  const parents = [
    ...rows.filter((row) => row.kind === 'handler'),
    ...rows.filter((row) => row.kind === 'sidecarless').sort(bySize),
  ];
  const out: { row: PackageRow; depth: number; also: string[] }[] = [];
  const placed = new Set<string>();
  for (const parent of parents) {
    out.push({ row: parent, depth: 0, also: [] });
    for (const dependency of rows.filter((row) => row.kind === 'dependency').sort(bySize))
      if (!placed.has(dependency.name) && dependency.pulledInBy[0] === parent.name) {
        placed.add(dependency.name);
        out.push({ row: dependency, depth: 1, also: dependency.pulledInBy.slice(1) });
      }
  }
  for (const row of rows)
    if ((row.kind === 'dependency' && !placed.has(row.name)) || row.kind === 'runtime')
      out.push({ row, depth: 0, also: [] });
  return out;
}

function printTables(
  paint: Paint,
  facts: { file: string; exportName: string; event: string; runs: number; noiseMs: number },
  attributed: { rows: PackageRow[]; total: number },
  whole: { bare: Figures; handler: Figures; added: Figures },
  failure: string | undefined,
): void {
  const out = (line = '') => process.stdout.write(`${line}\n`);
  out(
    `${paint('bold', `sidecarless cost ${facts.file}`)} — export "${facts.exportName}", event ${facts.event}`,
  );
  out(
    paint(
      'dim',
      `bundled as SAM's esbuild builder does (one minified CommonJS file, platform node, target node22, @aws-sdk/* external); medians of ${facts.runs} fresh Node ${process.versions.node} processes`,
    ),
  );
  out();
  const packageRows = ordered(attributed.rows).map(({ row, depth, also }) => [
    depth === 0
      ? row.kind === 'sidecarless'
        ? paint('bold', row.name)
        : row.name
      : `  └ ${row.name}${also.length > 0 ? paint('dim', ` (also via ${also.join(', ')})`) : ''}`,
    kb(row.bytes),
    row.importMs === undefined ? '' : signed(row.importMs),
  ]);
  const heading = (...cells: string[]) => cells.map((cell) => paint('dim', cell));
  for (const line of table([heading('package', 'bundle KB', 'import ms, alone'), ...packageRows], visible))
    out(line);
  out();
  const { bare, handler, added } = whole;
  const rows = [
    heading('whole handler', 'bundle KB', 'import ms', 'of which the module', 'first invocation ms'),
    ['bare handler', kb(bare.bytes), ms(bare.importMs), ms(bare.loadMs), ms(bare.invokeMs)],
    ['this handler', kb(handler.bytes), ms(handler.importMs), ms(handler.loadMs), ms(handler.invokeMs)],
    [
      'added',
      signed(added.bytes / 1024),
      signed(added.importMs),
      signed(added.loadMs),
      signed(added.invokeMs),
    ].map((cell) => paint('bold', cell)),
  ];
  for (const line of table(rows, visible)) out(line);
  out();
  for (const note of [
    'import ms: process start to the handler module loaded; of which the module: its require() alone.',
    'alone: the require() of a bundle of only what the handler imports from that package (with the',
    '  @sidecarless/core it needs), over the bare handler. first invocation: the call with the event.',
    `added: medians of per-run differences. A bare process varies by ±${facts.noiseMs.toFixed(1)} ms here (half the interquartile range).`,
  ])
    out(paint('dim', note));
  if (failure !== undefined)
    out(paint('red', `the handler's first invocation failed (${failure}): its figures are for that path`));
}

/** `sidecarless cost`. */
export async function cost(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parse('cost', argv, options);
  const file = handlerFile('cost', positionals);
  const runs = values.runs === undefined ? 5 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 100)
    throw new UsageError(`--runs: "${values.runs}" is not a whole number from 1 to 100; use --runs 5`);
  const exportName = values.export ?? 'handler';
  const { name: eventName, event } = eventFrom(values.event, 'api-gw-v2');
  const timeoutMs = timeoutFrom(values.timeout);
  const esbuild: Esbuild = await import('esbuild');
  const work = mkdtempSync(join(tmpdir(), 'sidecarless-cost-'));
  try {
    const workingDir = process.cwd();
    const handlerOut = join(work, 'handler.cjs');
    const handlerMeta = await bundle(
      esbuild,
      { ...samBuild(handlerOut), entryPoints: [file], absWorkingDir: workingDir },
      relative(workingDir, file),
    );
    const bareOut = join(work, 'bare.cjs');
    const bareMeta = await bundle(
      esbuild,
      {
        ...samBuild(bareOut),
        stdin: { contents: bareSource, resolveDir: dirname(file), sourcefile: 'bare.mjs' },
        absWorkingDir: workingDir,
      },
      'the bare handler',
    );
    const handlerPackage = packageResolver()(file);
    const attributed = attribute(handlerMeta, workingDir, handlerPackage);
    const probes: Variant[] = [];
    for (const [name, wanted] of [...attributed.specifiers].sort(([a], [b]) => a.localeCompare(b))) {
      const probeOut = join(work, `probe-${probes.length}.cjs`);
      const imports = [...wanted].map((entry, index) => {
        const [how, specifier] = [entry.slice(0, entry.indexOf(' ')), entry.slice(entry.indexOf(' ') + 1)];
        return how === 'require'
          ? `const p${index} = require(${JSON.stringify(specifier)});`
          : `import * as p${index} from ${JSON.stringify(specifier)};`;
      });
      const keep = `globalThis.__sidecarlessProbe = [${[...wanted].map((_, index) => `p${index}`).join(', ')}];`;
      await bundle(
        esbuild,
        {
          ...samBuild(probeOut),
          stdin: {
            contents: `${imports.join('\n')}\n${keep}\n`,
            resolveDir: dirname(file),
            sourcefile: 'probe.mjs',
          },
          absWorkingDir: workingDir,
        },
        `a probe of ${name}`,
      );
      probes.push({ name, file: probeOut, loadOnly: true, importMs: [], loadMs: [], invokeMs: [] });
    }
    const sampled = (name: string, file: string): Variant => ({
      name,
      file,
      loadOnly: false,
      importMs: [],
      loadMs: [],
      invokeMs: [],
    });
    const bare = sampled('bare', bareOut);
    const handler = sampled('handler', handlerOut);
    const variants = [bare, handler, ...probes];
    const functionName = functionNameOf(file);
    const env = { ...lambdaEnvironment({ functionName, timeoutMs }), ...process.env };
    for (let round = 0; round < runs; round++) {
      // Rotated each round, so no variant always runs first (or just after the heaviest).
      for (let i = 0; i < variants.length; i++) {
        const variant = variants[(i + round) % variants.length]!;
        const spec: RunSpec = {
          file: variant.file,
          exportName: variant === handler ? exportName : 'handler',
          exportGiven: true,
          platform: 'lambda',
          loadWith: 'require',
          loadOnly: variant.loadOnly,
          event,
          functionName,
          timeoutMs,
        };
        const outcome = await runInChild(spec, { env, killAfterMs: timeoutMs + 5_000 });
        const result: RunResult | undefined = outcome.result;
        if (result?.outcome === 'usage')
          throw new UsageError(result.error?.message.replace('handler.cjs', basename(file)) ?? 'usage error');
        if (result === undefined || result.loadedMs === undefined)
          throw new UsageError(
            `the ${variant.name === 'handler' ? 'handler' : variant.name} bundle did not load (${outcome.timedOut ? 'timed out' : `exit ${outcome.exitCode}`}): ${outcome.lines.at(-1)?.text ?? ''}`,
          );
        if (result.outcome === 'init-failed')
          throw new UsageError(
            `${relative(workingDir, file)} failed at init when bundled: ${result.error?.type}: ${result.error?.message}`,
          );
        variant.importMs[round] = result.loadedMs;
        variant.loadMs[round] = result.loadMs ?? Number.NaN;
        if (result.invokeMs !== undefined) variant.invokeMs[round] = result.invokeMs;
        if (result.outcome === 'failed') variant.failure = `${result.error?.type}: ${result.error?.message}`;
        const status = (result.result as { statusCode?: unknown } | undefined)?.statusCode;
        if (typeof status === 'number' && status >= 500) variant.failure = `answered HTTP ${status}`;
      }
    }
    for (const probe of probes) {
      const row = attributed.rows.find((candidate) => candidate.name === probe.name);
      if (row) row.importMs = pairedMedian(probe.loadMs, bare.loadMs);
    }
    const figures = (variant: Variant, bytes: number): Figures => ({
      bytes,
      importMs: median(variant.importMs),
      loadMs: median(variant.loadMs),
      invokeMs: median(variant.invokeMs),
    });
    const bareFigures = figures(bare, Object.values(bareMeta.outputs)[0]!.bytes);
    const handlerFigures = figures(handler, attributed.total);
    const added: Figures = {
      bytes: handlerFigures.bytes - bareFigures.bytes,
      importMs: pairedMedian(handler.importMs, bare.importMs),
      loadMs: pairedMedian(handler.loadMs, bare.loadMs),
      invokeMs: pairedMedian(handler.invokeMs, bare.invokeMs),
    };
    const noiseMs = spread(bare.importMs);
    if (values.json) {
      const described = (figures: Figures, variant?: Variant) => ({
        bytes: figures.bytes,
        importMs: figures.importMs,
        loadMs: figures.loadMs,
        firstInvocationMs: figures.invokeMs,
        ...(variant
          ? {
              samples: {
                importMs: variant.importMs,
                loadMs: variant.loadMs,
                firstInvocationMs: variant.invokeMs,
              },
            }
          : {}),
      });
      process.stdout.write(
        `${JSON.stringify(
          {
            file: relative(workingDir, file),
            export: exportName,
            event: eventName,
            runs,
            node: process.versions.node,
            build: samOptions,
            packages: ordered(attributed.rows).map(({ row }) => row),
            bare: described(bareFigures, bare),
            handler: {
              ...described(handlerFigures, handler),
              ...(handler.failure ? { failure: handler.failure } : {}),
            },
            added: described(added),
            noiseMs,
          },
          null,
          2,
        )}\n`,
      );
    } else
      printTables(
        painter(process.stdout),
        { file: relative(workingDir, file), exportName, event: eventName, runs, noiseMs },
        attributed,
        { bare: bareFigures, handler: handlerFigures, added },
        handler.failure,
      );
    return handler.failure === undefined ? 0 : 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
