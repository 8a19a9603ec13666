/**
 * Cold start of the telemetry stacks: each sample is a fresh Node process that imports the stack
 * and makes it ready to serve (Sidecarless: `createMesh(..., [telemetry, auth, outbound, http]).ready()`; Powertools: Logger +
 * Metrics + Tracer constructed and wrapped around a handler with Middy). Candidates are
 * interleaved round by round, each stack from node_modules and as one minified esbuild ES-module
 * bundle (what Lambda users deploy).
 *
 * The child reports `performance.now()` when ready: the time since its process started, so it
 * includes compiling the bundle and loading the built-in modules its static imports name (both
 * happen before the first line of the module runs, and a timer started there misses them: a
 * static `import` of `node:http` alone costs ~40 ms). An empty ES module, in the same rounds, is
 * Node's own start; a stack's cost is its time minus that one's, round by round. The figure is
 * taken before the child touches `process.stdout` to report it (Node creates that stream lazily,
 * at a cost of several milliseconds that belongs to the benchmark, not the stack).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { deployedBundle, lambdaEnvironment, median, printTable, times } from './lib.ts';

// Powertools' Tracer only sets itself up inside Lambda: give every child Lambda's environment.
const env = { ...process.env, ...lambdaEnvironment };

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const emptyModule = 'empty ES module (Node itself)';
const coldScripts: Record<string, string> = {
  [emptyModule]: '',
  'Sidecarless kernel, no telemetry': `
    const { createMesh } = await import('@sidecarless/core');
    await createMesh({ service: 'cold', logging: { level: 'silent' } }).ready();`,
  'Sidecarless + metrics (EMF), no tracing': `
    const { createMesh } = await import('@sidecarless/core');
    const { telemetry } = await import('@sidecarless/telemetry');
    await createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { metrics: { exporter: 'emf' } } }, [telemetry]).ready();`,
  'Sidecarless + tracing (OTLP/HTTP) + EMF': `
    const { createMesh } = await import('@sidecarless/core');
    const { telemetry } = await import('@sidecarless/telemetry');
    await createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { tracing: { exporter: 'otlp', endpoint: 'http://127.0.0.1:4318/v1/traces' }, metrics: { exporter: 'emf' } } }, [telemetry]).ready();`,
  // An application that brings the SDK's BatchSpanProcessor: the SDK is its import, not the mesh's.
  "Sidecarless + tracing into the SDK's BatchSpanProcessor (app imports the SDK) + EMF": `
    const { createMesh } = await import('@sidecarless/core');
    const { telemetry } = await import('@sidecarless/telemetry');
    const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const exporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
    await createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { tracing: { spanProcessor: new BatchSpanProcessor(exporter) }, metrics: { exporter: 'emf' } } }, [telemetry]).ready();`,
  'Middy + Powertools Logger/Metrics/Tracer': `
    const [{ default: middy }, { Logger }, { injectLambdaContext }, { Metrics }, { logMetrics }, { Tracer }, { captureLambdaHandler }] = await Promise.all([
      import('@middy/core'), import('@aws-lambda-powertools/logger'), import('@aws-lambda-powertools/logger/middleware'),
      import('@aws-lambda-powertools/metrics'), import('@aws-lambda-powertools/metrics/middleware'),
      import('@aws-lambda-powertools/tracer'), import('@aws-lambda-powertools/tracer/middleware')]);
    const tracer = new Tracer(); const metrics = new Metrics(); const logger = new Logger();
    middy(async () => ({})).use(captureLambdaHandler(tracer)).use(logMetrics(metrics)).use(injectLambdaContext(logger));`,
};
// Each stack twice: from node_modules, and as one minified esbuild bundle (what Lambda users
// deploy; PERF-NOTES: bundling dominates cold start).
const tmpDir = join(benchDir, '..', '.bench-tmp', 'telemetry-cold');
mkdirSync(tmpDir, { recursive: true });
interface ColdCandidate {
  readonly stack: string;
  readonly form: 'node_modules' | 'bundled';
  readonly file: string;
}
const coldCandidates: ColdCandidate[] = [];
for (const [index, [stack, body]] of Object.entries(coldScripts).entries()) {
  const source = join(benchDir, `.telemetry-cold-${index}.mjs`);
  writeFileSync(
    source,
    `${body}\nconst readyAt = performance.now();\nprocess.stdout.write(String(readyAt));`,
  );
  const bundled = join(tmpDir, `cold-${index}.mjs`);
  await build({ ...deployedBundle('esm'), entryPoints: [source], outfile: bundled });
  coldCandidates.push(
    { stack, form: 'node_modules', file: source },
    { stack, form: 'bundled', file: bundled },
  );
}
const rounds = 15;
const coldSamples = coldCandidates.map(() => [] as number[]);
for (let round = 0; round < rounds; round++) {
  for (const [index, candidate] of coldCandidates.entries()) {
    const child = spawnSync(process.execPath, [candidate.file], {
      cwd: benchDir,
      env,
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`${candidate.stack} (${candidate.form}) failed: ${child.stderr}`);
    coldSamples[index]!.push(Number(child.stdout.trim().split('\n').pop()));
  }
}
for (const candidate of coldCandidates) if (candidate.form === 'node_modules') rmSync(candidate.file);
const samplesOf = (stack: string, form: ColdCandidate['form']) =>
  coldSamples[coldCandidates.findIndex((c) => c.stack === stack && c.form === form)]!;
/** Median of the stack's time minus the empty module's, paired round by round. */
const costOf = (stack: string, form: ColdCandidate['form']) => {
  const empty = samplesOf(emptyModule, form);
  return median(samplesOf(stack, form).map((ready, round) => ready - empty[round]!));
};
const powertoolsStack = Object.keys(coldScripts).at(-1)!;
const stacks = Object.keys(coldScripts).filter((stack) => stack !== emptyModule);
printTable(
  `Cold start: process start → ready, median of ${rounds} fresh processes (ESM, Node ${process.version}), interleaved`,
  ['stack', 'node_modules', 'bundled'],
  Object.keys(coldScripts).map((stack) => [
    stack,
    `${median(samplesOf(stack, 'node_modules')).toFixed(1)} ms`,
    `${median(samplesOf(stack, 'bundled')).toFixed(1)} ms`,
  ]),
);
printTable(
  "What each stack adds to Node's own start (its time minus the empty module's, paired by round)",
  ['stack', 'node_modules', 'vs Powertools', 'bundled', 'vs Powertools bundled'],
  stacks.map((stack) => [
    stack,
    `${costOf(stack, 'node_modules').toFixed(1)} ms`,
    times(costOf(stack, 'node_modules') / costOf(powertoolsStack, 'node_modules')),
    `${costOf(stack, 'bundled').toFixed(1)} ms`,
    times(costOf(stack, 'bundled') / costOf(powertoolsStack, 'bundled')),
  ]),
);
