import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { median } from './lib.ts';

const dir = import.meta.dirname;
const K = `const { createMesh } = await import('@sidecarless/core');`;
const emf = `await createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { metrics: { exporter: 'emf' } } }).ready();`;
const scripts: Record<string, string> = {
  empty: ``,
  kernel: `${K} await createMesh({ service: 'cold', logging: { level: 'silent' } }).ready();`,
  emf: `${K} ${emf}`,
  tracing: `${K} await createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { tracing: { exporter: 'otlp', endpoint: 'http://127.0.0.1:4318/v1/traces' }, metrics: { exporter: 'emf' } } }).ready();`,
  'emf+api': `${K} ${emf} const api = await import('@opentelemetry/api'); api.trace.getTracer('x').startSpan('a').end();`,
  'emf+http': `${K} ${emf} const h = await import('node:http'); new h.Agent({keepAlive:true});`,
  'emf+https': `${K} ${emf} const h = await import('node:https'); new h.Agent({keepAlive:true});`,
  'emf+als': `${K} ${emf} const { AsyncLocalStorage } = await import('node:async_hooks'); new AsyncLocalStorage().run(1, () => 1);`,
  'emf+api+als': `${K} ${emf} const api = await import('@opentelemetry/api'); const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks'); api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());`,
  powertools: `
    const [{ default: middy }, { Logger }, { injectLambdaContext }, { Metrics }, { logMetrics }, { Tracer }, { captureLambdaHandler }] = await Promise.all([
      import('@middy/core'), import('@aws-lambda-powertools/logger'), import('@aws-lambda-powertools/logger/middleware'),
      import('@aws-lambda-powertools/metrics'), import('@aws-lambda-powertools/metrics/middleware'),
      import('@aws-lambda-powertools/tracer'), import('@aws-lambda-powertools/tracer/middleware')]);
    const tracer = new Tracer(); const metrics = new Metrics(); const logger = new Logger();
    middy(async () => ({})).use(captureLambdaHandler(tracer)).use(logMetrics(metrics)).use(injectLambdaContext(logger));`,
};
const only = process.argv[2]?.split(',');
const names = Object.keys(scripts).filter((n) => !only || only.includes(n));
const out = join(dir, '..', '.bench-tmp', 'scratch');
mkdirSync(out, { recursive: true });
const files: string[] = [];
for (const [i, n] of names.entries()) {
  const src = join(dir, `.scratch-${i}.mjs`);
  writeFileSync(
    src,
    `const t0 = performance.now(); const c0 = process.cpuUsage();${scripts[n]}\nconst elapsed = performance.now() - t0; const c = process.cpuUsage(c0); process.stdout.write(elapsed + ' ' + (c.user + c.system) / 1000);`,
  );
  const f = join(out, `${i}.mjs`);
  const r = await build({
    entryPoints: [src],
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile: f,
    logLevel: 'error',
    metafile: true,
    nodePaths: [join(dir, '..', 'node_modules', '.pnpm', 'node_modules')],
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  const bytes = Object.values(r.metafile.outputs)[0]!.bytes;
  files.push(f);
  console.log(n, (bytes / 1024).toFixed(1), 'KB');
}
Object.assign(process.env, {
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
  LAMBDA_TASK_ROOT: '/var/task',
  AWS_REGION: 'eu-west-1',
  _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
  POWERTOOLS_SERVICE_NAME: 'bench',
  POWERTOOLS_METRICS_NAMESPACE: 'Bench',
});
const rounds = Number(process.env.ROUNDS ?? 15);
const s = names.map(() => [] as number[]);
const cpu = names.map(() => [] as number[]);
for (let r = 0; r < rounds; r++)
  for (const [i] of names.entries()) {
    const c = spawnSync(process.execPath, [files[i]!], { cwd: dir, encoding: 'utf8', env: process.env });
    if (c.status !== 0) throw new Error(c.stderr);
    const [w, u] = c.stdout.split(' ').map(Number);
    s[i]!.push(w!);
    cpu[i]!.push(u!);
  }
const pt = names.indexOf('powertools');
for (const [i, n] of names.entries())
  console.log(
    n.padEnd(14),
    median(s[i]!).toFixed(2).padStart(7),
    'ms',
    median(cpu[i]!).toFixed(2).padStart(7),
    'cpu ms',
    pt >= 0 ? (median(s[i]!) / median(s[pt]!)).toFixed(2) + 'x' : '',
  );
