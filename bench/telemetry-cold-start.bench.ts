/**
 * Cold start of the telemetry stacks: each sample is a fresh Node process that imports the stack
 * and makes it ready to serve (Sidecarless: `createMesh(...).ready()`; Powertools: Logger +
 * Metrics + Tracer constructed and wrapped around a handler with Middy). Candidates are
 * interleaved round by round; the time is measured inside the child, from its first line to
 * ready, and taken before the child touches `process.stdout` to report it (Node creates that
 * stream lazily, at a cost of several milliseconds that belongs to the benchmark, not the stack).
 * Each stack from node_modules and as one minified esbuild bundle (what Lambda users deploy).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { lambdaEnvironment, median, printTable, times } from './lib.ts';

// Powertools' Tracer only sets itself up inside Lambda: give every child Lambda's environment.
const env = { ...process.env, ...lambdaEnvironment };

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const coldScripts: Record<string, string> = {
  'Sidecarless kernel, no telemetry': `
    const { createMesh } = await import('@sidecarless/core');
    await createMesh({ service: 'cold', logging: { level: 'silent' } }).ready();`,
  'Sidecarless + metrics (EMF), no tracing': `
    const { createMesh } = await import('@sidecarless/core');
    await createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { metrics: { exporter: 'emf' } } }).ready();`,
  'Sidecarless + tracing (OTLP/HTTP) + EMF': `
    const { createMesh } = await import('@sidecarless/core');
    await createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { tracing: { exporter: 'otlp', endpoint: 'http://127.0.0.1:4318/v1/traces' }, metrics: { exporter: 'emf' } } }).ready();`,
  // The OpenTelemetry SDK path, taken when the application passes a span processor: what every
  // traced mesh loaded before the light tracer.
  'Sidecarless + tracing via the SDK (span processor passed) + EMF': `
    const { createMesh } = await import('@sidecarless/core');
    const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const exporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
    await createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { tracing: { spanProcessor: new BatchSpanProcessor(exporter) }, metrics: { exporter: 'emf' } } }).ready();`,
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
    `const t0 = performance.now();${body}\nconst elapsed = performance.now() - t0;\nprocess.stdout.write(String(elapsed));`,
  );
  const bundled = join(tmpDir, `cold-${index}.mjs`);
  await build({
    entryPoints: [source],
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile: bundled,
    logLevel: 'error',
    // CommonJS dependencies (pino, Powertools' X-Ray SDK) need a require() inside an ESM bundle.
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
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
const coldMedian = (stack: string, form: ColdCandidate['form']) =>
  median(coldSamples[coldCandidates.findIndex((c) => c.stack === stack && c.form === form)]!);
const powertoolsStack = Object.keys(coldScripts).at(-1)!;
printTable(
  `Cold start: import + ready, median of ${rounds} fresh processes (ESM, Node ${process.version}), interleaved`,
  ['stack', 'node_modules', 'vs Powertools', 'bundled', 'vs Powertools bundled'],
  Object.keys(coldScripts).map((stack) => [
    stack,
    `${coldMedian(stack, 'node_modules').toFixed(1)} ms`,
    times(coldMedian(stack, 'node_modules') / coldMedian(powertoolsStack, 'node_modules')),
    `${coldMedian(stack, 'bundled').toFixed(1)} ms`,
    times(coldMedian(stack, 'bundled') / coldMedian(powertoolsStack, 'bundled')),
  ]),
);
