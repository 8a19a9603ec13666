/**
 * The install an application actually gets: the built core, outbound and telemetry packed as they
 * are published (`pnpm pack`), installed with npm from the registry into a fresh application
 * directory beside `@opentelemetry/sdk-trace-node` 2.x. `@opentelemetry/api` is a peer dependency
 * of ours, as of OpenTelemetry's own packages, so the application holds exactly one copy — and a
 * `NodeTracerProvider` the application registers receives the mesh's spans, from CommonJS and from
 * an ES module.
 *
 * Needs the npm registry (npm's cache makes a second run quick) and a build (`pnpm build`).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const run = promisify(execFile);
const packages = fileURLToPath(new URL('../..', import.meta.url));
const app = mkdtempSync(join(tmpdir(), 'sidecarless-app-'));

/** What the application's script prints: where each package's api resolves, and the spans. */
interface Report {
  readonly apiFromTelemetry: string;
  readonly apiFromOutbound: string;
  readonly apiFromSdk: string;
  readonly spans: { name: string; kind: number; scope: string; parent: string | undefined; id: string }[];
}

const script = (load: string) => `
  ${load}
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  const mesh = createMesh({ service: 'installed', logging: { level: 'silent' }, telemetry: { tracing: {} } }, [telemetry, outbound]);
  const response = await invoke(mesh, async () => {
    trace.getTracer('installed-app').startSpan('app work').end();
    return new Response('ok');
  }, 'http://localhost/installed');
  await mesh.flush();
  const from = (pkg) => req.resolve('@opentelemetry/api', { paths: [dirname(req.resolve(pkg))] });
  const report = {
    status: response.status,
    apiFromTelemetry: from('@sidecarless/telemetry'),
    apiFromOutbound: from('@sidecarless/outbound'),
    apiFromSdk: from('@opentelemetry/sdk-trace-base'),
    spans: exporter.getFinishedSpans().map((s) => ({ name: s.name, kind: s.kind, scope: s.instrumentationScope.name, parent: s.parentSpanContext?.spanId, id: s.spanContext().spanId })),
  };
  await mesh.close();
  process.stdout.write(JSON.stringify(report));
`;

beforeAll(async () => {
  for (const name of ['core', 'outbound', 'telemetry'])
    expect(existsSync(join(packages, name, 'dist/cjs/index.js')), 'run `pnpm build` first').toBe(true);
  for (const name of ['core', 'outbound', 'telemetry'])
    await run('pnpm', ['pack', '--pack-destination', app], { cwd: join(packages, name) });
  const tarballs = readdirSync(app).filter((file) => file.endsWith('.tgz'));
  expect(tarballs).toHaveLength(3);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'installed-app', private: true }));
  await run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...tarballs.map((file) => `./${file}`),
      '@opentelemetry/sdk-trace-node@2.12.1',
    ],
    { cwd: app, timeout: 240_000 },
  );
}, 300_000);

afterAll(() => rmSync(app, { recursive: true, force: true }));

it('installs one copy of @opentelemetry/api, shared by the mesh and the SDK', async () => {
  const { stdout } = await run('npm', ['ls', '@opentelemetry/api', '--all', '--json'], { cwd: app });
  const versions = new Set<string>();
  const walk = (node: { dependencies?: Record<string, { version?: string }> }) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (name === '@opentelemetry/api' && child.version) versions.add(child.version);
      walk(child as never);
    }
  };
  walk(JSON.parse(stdout));
  // sdk-trace-node 2.12 accepts api ">=1.0.0 <1.10.0": npm picks the one version every peer range takes.
  expect([...versions]).toHaveLength(1);
  expect([...versions][0]).toMatch(/^1\.9\./);
  expect(existsSync(join(app, 'node_modules/@sidecarless/telemetry/node_modules/@opentelemetry/api'))).toBe(
    false,
  );
  expect(existsSync(join(app, 'node_modules/@sidecarless/outbound/node_modules/@opentelemetry/api'))).toBe(
    false,
  );
});

for (const [kind, file, load] of [
  [
    'CommonJS',
    'traced.cjs',
    `const req = require; const { dirname } = require('node:path');
     const { trace } = require('@opentelemetry/api');
     const { NodeTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-node');
     const { createMesh } = require('@sidecarless/core');
     const { invoke } = require('@sidecarless/core/local');
     const { telemetry } = require('@sidecarless/telemetry');
     const { outbound } = require('@sidecarless/outbound');
     (async () => {`,
  ],
  [
    'an ES module',
    'traced.mjs',
    `import { createRequire } from 'node:module'; import { dirname } from 'node:path';
     import { trace } from '@opentelemetry/api';
     import { NodeTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
     import { createMesh } from '@sidecarless/core';
     import { invoke } from '@sidecarless/core/local';
     import { telemetry } from '@sidecarless/telemetry';
     import { outbound } from '@sidecarless/outbound';
     const req = createRequire(import.meta.url);
     await (async () => {`,
  ],
] as const) {
  it(`delivers the mesh's spans to the provider the application registers, from ${kind}`, async () => {
    writeFileSync(join(app, file), `${script(load)}\n})();`);
    const { stdout } = await run(process.execPath, ['--no-experimental-require-module', file], { cwd: app });
    const report = JSON.parse(stdout) as Report & { status: number };
    expect(report.status).toBe(200);
    // One file, whichever package asks.
    expect(report.apiFromTelemetry).toBe(report.apiFromSdk);
    expect(report.apiFromOutbound).toBe(report.apiFromSdk);
    expect(report.apiFromSdk.startsWith(join(app, 'node_modules/@opentelemetry/api/'))).toBe(true);
    const server = report.spans.find((span) => span.scope === '@sidecarless/core');
    const work = report.spans.find((span) => span.scope === 'installed-app');
    expect(server).toMatchObject({ name: 'GET', kind: 1 });
    expect(server!.parent).toBeUndefined();
    expect(work).toMatchObject({ name: 'app work', parent: server!.id });
  });
}
