/**
 * What each OpenTelemetry integration costs, and that it costs nothing when it is not used:
 *
 * 1. Cold start (fresh processes, node_modules and one minified esbuild bundle, interleaved):
 *    ready (import + `createMesh().ready()`) and the first invocation (with its flush to a local
 *    OTLP endpoint), for the light tracer with OTLP JSON (the default), with `http/protobuf` and
 *    gzip (the standard variables), and for the application's own SDK — `NodeTracerProvider`, and
 *    `NodeSDK` with the http and undici instrumentations as the Lambda layer sets it up — each
 *    beside the same SDK setup without the mesh, so the mesh's share shows.
 * 2. Warm, per invocation: the light tracer against the application's NodeTracerProvider with the
 *    SDK's BatchSpanProcessor; the guard that keeps instrumentation-undici off the mesh's own
 *    dispatches, with and without a subscriber; encoding an export, ours against the official
 *    otlp-transformer's, JSON and protobuf (and gzip).
 */

import { channel } from 'node:diagnostics_channel';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { context, createContextKey, type Span, SpanKind, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-node';
import { createMesh } from '@sidecarless/core';
import { prepareHttp } from '@sidecarless/core/adapter';
import { telemetry } from '@sidecarless/telemetry';
import { build } from 'esbuild';
// biome-ignore lint/style/noRestrictedImports: this bench times the encoders alone, which have no public entry point; the invocation rows go through the public API.
import { encodeSpans } from '../packages/telemetry/dist/esm/otlp-http-exporter.js';
// biome-ignore lint/style/noRestrictedImports: the protobuf encoder alone, as above.
import { encodeSpansProtobuf } from '../packages/telemetry/dist/esm/otlp-protobuf.js';
import { compare, deployedBundle, median, printComparison, printTable, us } from './lib.ts';

const benchDir = fileURLToPath(new URL('.', import.meta.url));

// --- 1. cold start ------------------------------------------------------------------------

// A local OTLP endpoint for the children's first flush: answers every export 200.
const collector = createServer((request, response) => {
  request.resume();
  request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
});
await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;

const emptyModule = 'empty ES module (Node itself)';
const discard = `{ export: (_s, done) => done({ code: 0 }), shutdown: async () => {} }`;
const meshImports = `
  const { createMesh } = await import('@sidecarless/core');
  const { invoke } = await import('@sidecarless/core/local');
  const { telemetry } = await import('@sidecarless/telemetry');`;
const meshRun = (tracing: string) => `
  const mesh = createMesh({ service: 'cold', logging: { level: 'silent' }, telemetry: { tracing: ${tracing} } }, [telemetry]);
  await mesh.ready();
  mark('ready');
  await invoke(mesh, () => new Response('ok'), 'http://localhost/');
  await mesh.flush();`;
const nodeTracerProvider = `
  const { NodeTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-node');
  new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(${discard})] }).register();`;
const nodeSdk = `
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { BatchSpanProcessor } = await import('@opentelemetry/sdk-trace');
  const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
  const { UndiciInstrumentation } = await import('@opentelemetry/instrumentation-undici');
  new NodeSDK({ serviceName: 'cold', spanProcessors: [new BatchSpanProcessor({ exporter: ${discard} })],
    instrumentations: [new HttpInstrumentation(), new UndiciInstrumentation()] }).start();`;
/** The same handler without a mesh: what the SDK setup costs on its own. */
const bareRun = `
  mark('ready');
  // What the mesh's first invocation builds too: Node's Request/Response machinery loads lazily.
  await new Response(new Request('http://localhost/').url).text();
  const { trace } = await import('@opentelemetry/api');
  const span = trace.getTracer('cold').startSpan('GET'); span.end();
  await trace.getTracerProvider().getDelegate?.().forceFlush?.();`;

const coldScripts: Record<string, string> = {
  [emptyModule]: `mark('ready');`,
  'mesh, light tracer, OTLP http/json (default)': `${meshImports}${meshRun(`{ exporter: 'otlp', endpoint: '${endpoint}' }`)}`,
  'mesh, light tracer, OTLP http/protobuf + gzip (env)': `
    process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/protobuf'; process.env.OTEL_EXPORTER_OTLP_COMPRESSION = 'gzip';
    ${meshImports}${meshRun(`{ exporter: 'otlp', endpoint: '${endpoint}' }`)}`,
  'NodeTracerProvider alone (no mesh)': `${nodeTracerProvider}${bareRun}`,
  'NodeTracerProvider + mesh (tracing into it)': `${nodeTracerProvider}${meshImports}${meshRun('{}')}`,
  'NodeSDK + http/undici instrumentations alone (no mesh)': `${nodeSdk}${bareRun}`,
  'NodeSDK + http/undici instrumentations + mesh': `${nodeSdk}${meshImports}${meshRun('{}')}`,
};

const tmpDir = join(benchDir, '..', '.bench-tmp', 'otel-integration');
mkdirSync(tmpDir, { recursive: true });
interface ColdCandidate {
  readonly stack: string;
  readonly form: 'node_modules' | 'bundled';
  readonly file: string;
}
const coldCandidates: ColdCandidate[] = [];
for (const [index, [stack, body]] of Object.entries(coldScripts).entries()) {
  const source = join(benchDir, `.otel-integration-${index}.mjs`);
  // `ready` and `done` are read before the child touches process.stdout (created lazily, at a
  // cost that belongs to the benchmark); whether zlib is loaded once ready shows what the
  // configuration loaded (the first Response loads it anyway: Node's fetch decompresses).
  writeFileSync(
    source,
    `const marks = {}; let zlibAtReady = false;
    const mark = (name) => { marks[name] = performance.now(); if (name === 'ready') zlibAtReady = process.moduleLoadList.includes('NativeModule zlib'); };
    ${body}
    mark('done');
    process.stdout.write(JSON.stringify({ ...marks, zlib: zlibAtReady }));
    process.exit(0);`,
  );
  const bundled = join(tmpDir, `cold-${index}.mjs`);
  await build({ ...deployedBundle('esm'), entryPoints: [source], outfile: bundled });
  coldCandidates.push(
    { stack, form: 'node_modules', file: source },
    { stack, form: 'bundled', file: bundled },
  );
}

interface ColdSample {
  readonly ready: number;
  readonly done: number;
  readonly zlib: boolean;
}
const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const coldSamples = coldCandidates.map(() => [] as ColdSample[]);
for (let round = 0; round < rounds; round++) {
  for (const [index, candidate] of coldCandidates.entries()) {
    // Asynchronous: the collector answers from this process's event loop.
    const child = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const { spawn } = process.getBuiltinModule('node:child_process');
      const proc = spawn(process.execPath, [candidate.file], { cwd: benchDir });
      let stdout = '';
      let stderr = '';
      proc.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk;
      });
      proc.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk;
      });
      proc.on('close', (status) => resolve({ status, stdout, stderr }));
    });
    if (child.status !== 0) throw new Error(`${candidate.stack} (${candidate.form}) failed: ${child.stderr}`);
    coldSamples[index]!.push(JSON.parse(child.stdout) as ColdSample);
  }
}
collector.close();
for (const candidate of coldCandidates) if (candidate.form === 'node_modules') rmSync(candidate.file);

const samplesOf = (stack: string, form: ColdCandidate['form']) =>
  coldSamples[coldCandidates.findIndex((c) => c.stack === stack && c.form === form)]!;
/** Median of the stack's `field` minus `baseline`'s, paired round by round. */
const costOf = (stack: string, baseline: string, form: ColdCandidate['form'], field: 'ready' | 'done') => {
  const base = samplesOf(baseline, form);
  return median(samplesOf(stack, form).map((sample, round) => sample[field] - base[round]![field]));
};
const ms = (value: number) => `${value.toFixed(1)} ms`;
const stacks = Object.keys(coldScripts).filter((stack) => stack !== emptyModule);
printTable(
  `Cold start over Node's own start (median of ${rounds} fresh processes each, Node ${process.version}, interleaved; "first invocation" = ready → first invocation flushed)`,
  [
    'stack',
    'ready (node_modules)',
    'first invocation',
    'ready (bundled)',
    'first invocation (bundled)',
    'zlib loaded at ready',
  ],
  stacks.map((stack) => [
    stack,
    ms(costOf(stack, emptyModule, 'node_modules', 'ready')),
    ms(median(samplesOf(stack, 'node_modules').map((s) => s.done - s.ready))),
    ms(costOf(stack, emptyModule, 'bundled', 'ready')),
    ms(median(samplesOf(stack, 'bundled').map((s) => s.done - s.ready))),
    samplesOf(stack, 'bundled').every((s) => s.zlib) ? 'yes' : 'no',
  ]),
);
const pairs: [string, string][] = [
  ['mesh, light tracer, OTLP http/protobuf + gzip (env)', 'mesh, light tracer, OTLP http/json (default)'],
  ['NodeTracerProvider + mesh (tracing into it)', 'NodeTracerProvider alone (no mesh)'],
  ['NodeSDK + http/undici instrumentations + mesh', 'NodeSDK + http/undici instrumentations alone (no mesh)'],
];
printTable(
  'What the integration adds on top of its baseline (paired by round; to ready, and to ready + first invocation)',
  ['integration', 'baseline', 'ready (node_modules)', 'ready (bundled)', 'to done (bundled)'],
  pairs.map(([stack, baseline]) => [
    stack,
    baseline,
    ms(costOf(stack, baseline, 'node_modules', 'ready')),
    ms(costOf(stack, baseline, 'bundled', 'ready')),
    ms(costOf(stack, baseline, 'bundled', 'done')),
  ]),
);

// --- 2. warm ------------------------------------------------------------------------------

const discardSpans: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
};
// The application's provider, registered first (its AsyncLocalStorage context manager too).
const provider = new NodeTracerProvider({
  spanProcessors: [new BatchSpanProcessor(discardSpans, { maxQueueSize: 4096, maxExportBatchSize: 512 })],
});
provider.register();
const sink = { write: () => {} };
const meshOf = (tracing: object | undefined) => {
  const mesh = createMesh(
    {
      service: 'bench',
      logging: { destination: sink },
      telemetry:
        tracing === undefined
          ? { logging: { accessLog: false } }
          : { tracing, logging: { accessLog: false } },
    },
    [telemetry],
  );
  const run = prepareHttp(mesh, () => new Response('ok'));
  return {
    mesh,
    run: () => run(new Request('http://localhost/orders'), { platform: 'aws-lambda', trigger: 'http' }),
  };
};
const untraced = meshOf(undefined);
// The light tracer beside the application's provider (provider: "light"), and the mesh's spans
// into the application's NodeTracerProvider (no exporter: the registered provider is detected).
const light = meshOf({ exporter: discardSpans, provider: 'light' });
const intoSdk = meshOf({});
await Promise.all([untraced.mesh.ready(), light.mesh.ready(), intoSdk.mesh.ready()]);
const invocations = await compare(
  [
    { name: 'mesh, telemetry without tracing', run: untraced.run },
    { name: 'mesh, light tracer (SERVER span)', run: light.run },
    {
      name: "mesh, SERVER span into the application's NodeTracerProvider + BatchSpanProcessor",
      run: intoSdk.run,
    },
  ],
  { rounds: 7, iterations: 3_000, warmup: 2_000 },
);
printComparison('Per invocation (warm): whose tracer records the span', invocations);

// The outbound guard (outbound/src/http/propagation.ts): one `hasSubscribers` read when nobody
// listens to undici's request channel; with instrumentation-undici listening, the dispatch runs
// inside OpenTelemetry's suppressed context (the same two api calls).
const requestCreate = channel('undici:request:create');
const suppress = createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING');
const dispatch = () => 1;
const guarded = () =>
  requestCreate.hasSubscribers
    ? context.with(context.active().setValue(suppress, true), dispatch)
    : dispatch();
const unguarded = await compare(
  [
    { name: 'dispatch, unguarded', run: dispatch },
    { name: 'dispatch, guarded, nobody subscribed', run: guarded },
  ],
  { rounds: 7, iterations: 200_000, warmup: 50_000 },
);
const listener = () => {};
requestCreate.subscribe(listener);
const subscribed = await compare(
  [{ name: 'dispatch, guarded, instrumentation-undici subscribed', run: guarded }],
  {
    rounds: 7,
    iterations: 200_000,
    warmup: 50_000,
  },
);
requestCreate.unsubscribe(listener);
printComparison('Per outbound attempt: keeping instrumentation-undici off the mesh’s dispatch', [
  ...unguarded,
  ...subscribed,
]);

// Encoding one export: a typical invocation's spans (SERVER + CLIENT) and a batch of 100.
const spansOf = (count: number): ReadableSpan[] => {
  const spans: ReadableSpan[] = [];
  const recorder = new NodeTracerProvider({
    spanProcessors: [
      {
        onStart() {},
        onEnd: (span) => spans.push(span),
        forceFlush: async () => {},
        shutdown: async () => {},
      },
    ],
  });
  const tracer = recorder.getTracer('@sidecarless/core');
  for (let i = 0; i < count; i += 2) {
    const server: Span = tracer.startSpan('POST /orders', {
      kind: SpanKind.SERVER,
      attributes: {
        'faas.trigger': 'http',
        'faas.invocation_id': `0f3c9b1e-${i}`,
        'faas.coldstart': false,
        'http.request.method': 'POST',
        'url.path': '/orders',
        'http.route': '/orders',
        'http.response.status_code': 201,
      },
    });
    tracer
      .startSpan(
        'GET',
        {
          kind: SpanKind.CLIENT,
          attributes: { 'server.address': 'inventory', 'server.port': 443, 'http.response.status_code': 200 },
        },
        trace.setSpan(context.active(), server),
      )
      .end();
    server.end();
  }
  return spans;
};
for (const count of [2, 100]) {
  const spans = spansOf(count);
  const encoders = [
    { name: 'ours, JSON', run: () => encodeSpans(spans) },
    { name: 'ours, protobuf', run: () => encodeSpansProtobuf(spans) },
    { name: 'ours, protobuf + gzip', run: () => gzipSync(encodeSpansProtobuf(spans)) },
    { name: 'otlp-transformer, JSON', run: () => JsonTraceSerializer.serializeRequest(spans) },
    { name: 'otlp-transformer, protobuf', run: () => ProtobufTraceSerializer.serializeRequest(spans) },
  ];
  const results = await compare(encoders, { rounds: 7, iterations: count === 2 ? 5_000 : 300, warmup: 500 });
  printTable(
    `Encoding one export of ${count} spans`,
    ['encoder', 'median per export', 'vs ours JSON', 'bytes'],
    results.map((result, index) => {
      const output = encoders[index]!.run();
      return [
        result.name,
        us(result.nsPerOp),
        `${(result.nsPerOp / results[0]!.nsPerOp).toFixed(2)}×`,
        String(typeof output === 'string' ? Buffer.byteLength(output) : (output?.byteLength ?? 0)),
      ];
    }),
  );
}
await Promise.all([untraced.mesh.close(), light.mesh.close(), intoSdk.mesh.close(), provider.shutdown()]);
