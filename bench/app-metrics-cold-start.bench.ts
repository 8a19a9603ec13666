/**
 * Cold start of the application's own metrics: what registering the mesh's MeterProvider adds to
 * a mesh with metrics on, and what the alternative — the OpenTelemetry metrics SDK with a reader
 * — would cost to import and set up instead of our light meter. Each sample is a fresh Node
 * process that imports the stack and makes it ready (and, where the row says so, makes one
 * counter and records once); candidates are interleaved round by round, each from node_modules
 * and as one minified esbuild ES-module bundle (what Lambda users deploy).
 *
 * The child reports `performance.now()` when ready (see telemetry-cold-start.bench.ts for why);
 * a stack's cost is its time minus the empty module's, round by round.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { deployedBundle, lambdaEnvironment, median, printTable } from './lib.ts';

const env = { ...process.env, ...lambdaEnvironment };
const benchDir = fileURLToPath(new URL('.', import.meta.url));
const emptyModule = 'empty ES module (Node itself)';
const meshEmf = (metricsOptions: string) => `
    const { createMesh } = await import('@sidecarless/core');
    const { telemetry } = await import('@sidecarless/telemetry');
    await createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { metrics: ${metricsOptions} } }, [telemetry]).ready();`;
const baseline = 'mesh, EMF, application: false (no MeterProvider)';
const coldScripts: Record<string, string> = {
  [emptyModule]: '',
  [baseline]: meshEmf("{ exporter: 'emf', application: false }"),
  'mesh, EMF, MeterProvider registered, unused': meshEmf("{ exporter: 'emf' }"),
  'mesh, EMF, MeterProvider + one counter made and added to': `${meshEmf("{ exporter: 'emf' }")}
    const { metrics } = await import('@opentelemetry/api');
    metrics.getMeter('checkout').createCounter('orders_placed_total').add(1, { tier: 'gold' });`,
  '@opentelemetry/api alone': `
    const { metrics } = await import('@opentelemetry/api');
    metrics.getMeterProvider();`,
  'sdk-metrics MeterProvider (no reader) + one counter': `
    const { metrics } = await import('@opentelemetry/api');
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
    metrics.setGlobalMeterProvider(new MeterProvider());
    metrics.getMeter('checkout').createCounter('orders_placed_total').add(1, { tier: 'gold' });`,
  'sdk-metrics + exporter-prometheus reader (server not started) + one counter': `
    const { metrics } = await import('@opentelemetry/api');
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
    const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] }));
    metrics.getMeter('checkout').createCounter('orders_placed_total').add(1, { tier: 'gold' });`,
};

const tmpDir = join(benchDir, '..', '.bench-tmp', 'app-metrics-cold');
mkdirSync(tmpDir, { recursive: true });
interface ColdCandidate {
  readonly stack: string;
  readonly form: 'node_modules' | 'bundled';
  readonly file: string;
}
const candidates: ColdCandidate[] = [];
const bundleBytes = new Map<string, number>();
for (const [index, [stack, body]] of Object.entries(coldScripts).entries()) {
  const source = join(benchDir, `.app-metrics-cold-${index}.mjs`);
  writeFileSync(
    source,
    `${body}\nconst readyAt = performance.now();\nprocess.stdout.write(String(readyAt));`,
  );
  const bundled = join(tmpDir, `cold-${index}.mjs`);
  const result = await build({
    ...deployedBundle('esm'),
    entryPoints: [source],
    outfile: bundled,
    metafile: true,
  });
  bundleBytes.set(stack, Object.values(result.metafile.outputs)[0]!.bytes);
  candidates.push({ stack, form: 'node_modules', file: source }, { stack, form: 'bundled', file: bundled });
}
const rounds = 15;
const samples = candidates.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  for (const [index, candidate] of candidates.entries()) {
    const child = spawnSync(process.execPath, [candidate.file], { cwd: benchDir, env, encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`${candidate.stack} (${candidate.form}) failed: ${child.stderr}`);
    samples[index]!.push(Number(child.stdout.trim().split('\n').pop()));
  }
}
for (const candidate of candidates) if (candidate.form === 'node_modules') rmSync(candidate.file);
const samplesOf = (stack: string, form: ColdCandidate['form']) =>
  samples[candidates.findIndex((c) => c.stack === stack && c.form === form)]!;
/** Median of `stack`'s time minus `base`'s, paired round by round. */
const costOf = (stack: string, form: ColdCandidate['form'], base = emptyModule) => {
  const against = samplesOf(base, form);
  return median(samplesOf(stack, form).map((ready, round) => ready - against[round]!));
};
const stacks = Object.keys(coldScripts).filter((stack) => stack !== emptyModule);
printTable(
  `Application metrics, cold: what each stack adds to Node's own start, median of ${rounds} fresh processes (ESM, Node ${process.version})`,
  ['stack', 'node_modules', 'bundled', 'bundle size'],
  stacks.map((stack) => [
    stack,
    `${costOf(stack, 'node_modules').toFixed(1)} ms`,
    `${costOf(stack, 'bundled').toFixed(1)} ms`,
    `${((bundleBytes.get(stack) ?? 0) / 1024).toFixed(0)} KB`,
  ]),
);
const meshRows = stacks.slice(1, 3);
printTable(
  `The integration's own cost: over "${baseline}", paired by round`,
  ['stack', 'node_modules', 'bundled'],
  meshRows.map((stack) => [
    stack,
    `${costOf(stack, 'node_modules', baseline).toFixed(1)} ms`,
    `${costOf(stack, 'bundled', baseline).toFixed(1)} ms`,
  ]),
);
