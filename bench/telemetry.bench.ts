/**
 * Telemetry cost: per-invocation overhead of tracing (sampled and unsampled) + metrics (EMF) +
 * one log line + the access line, against the bare handler and against the same handler under
 * Middy with Powertools Logger + Metrics + Tracer (X-Ray). The cold-start cost of turning tracing
 * on is in telemetry-cold-start.bench.ts.
 *
 * Every candidate's log and EMF output goes to the same in-memory sink (no syscalls), so the
 * comparison is of the work done, not of terminal speed. Powertools writes through
 * `process.stdout`, which is swapped for the sink while timing.
 */
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createMesh, type MeshOptions } from '@sidecarless/core';
import { prepareHttp } from '@sidecarless/core/adapter';
import { telemetry } from '@sidecarless/telemetry';
import { compare, lambdaEnvironment, printComparison, printTable, times, us } from './lib.ts';

// Powertools only traces inside Lambda: give it Lambda's environment.
Object.assign(process.env, lambdaEnvironment);

let sunk = 0;
const sink = {
  write: (line: string) => {
    sunk += line.length;
  },
};
const realWrite = process.stdout.write.bind(process.stdout);
const muteStdout = () => {
  process.stdout.write = ((chunk: string | Uint8Array) => {
    sunk += chunk.length;
    return true;
  }) as typeof process.stdout.write;
};
const restoreStdout = () => {
  process.stdout.write = realWrite;
};

// --- candidates --------------------------------------------------------------------------
const discardSpans = {
  export: (_spans: unknown[], done: (result: { code: number }) => void) => done({ code: 0 }),
  shutdown: () => Promise.resolve(),
};

function sidecarless(section: MeshOptions['telemetry']) {
  const mesh = createMesh({ service: 'bench', logging: { destination: sink }, telemetry: section }, [
    telemetry,
  ]);
  const run = prepareHttp(mesh, (_request, ctx) => {
    ctx.log.info({ item: 42 }, 'handled');
    return new Response('ok');
  });
  return {
    mesh,
    run: () => run(new Request('http://localhost/orders'), { platform: 'aws-lambda', trigger: 'http' }),
  };
}

const bare = (request: Request) => new Response(new URL(request.url).pathname);
const kernel = sidecarless(undefined);
const unsampled = sidecarless({
  tracing: { exporter: discardSpans, sampling: { ratio: 0 } },
  metrics: { exporter: 'emf' },
});
const sampled = sidecarless({ tracing: { exporter: discardSpans }, metrics: { exporter: 'emf' } });
// Spans into the application's span processor: the SDK's BatchSpanProcessor, driven by the light
// tracer (what an application that brings its own processor pays per span).
const sampledSdk = sidecarless({
  tracing: {
    spanProcessor: new BatchSpanProcessor(discardSpans, { maxQueueSize: 4096, maxExportBatchSize: 512 }),
  },
  metrics: { exporter: 'emf' },
});
await Promise.all([
  kernel.mesh.ready(),
  unsampled.mesh.ready(),
  sampled.mesh.ready(),
  sampledSdk.mesh.ready(),
]);

muteStdout();
const { default: middy } = await import('@middy/core');
const { Logger } = await import('@aws-lambda-powertools/logger');
const { injectLambdaContext } = await import('@aws-lambda-powertools/logger/middleware');
const { Metrics, MetricUnit } = await import('@aws-lambda-powertools/metrics');
const { logMetrics } = await import('@aws-lambda-powertools/metrics/middleware');
const { Tracer } = await import('@aws-lambda-powertools/tracer');
const { captureLambdaHandler } = await import('@aws-lambda-powertools/tracer/middleware');
const logger = new Logger();
const metrics = new Metrics();
const tracer = new Tracer();
const bareLambda = async (event: { rawPath: string }) => ({ statusCode: 200, body: event.rawPath });
const powertools = middy(async (event: { rawPath: string }) => {
  logger.info('handled', { item: 42 });
  metrics.addMetric('handled', MetricUnit.Count, 1);
  return { statusCode: 200, body: event.rawPath };
})
  .use(captureLambdaHandler(tracer))
  .use(logMetrics(metrics))
  .use(injectLambdaContext(logger));
const lambdaEvent = { rawPath: '/orders', requestContext: { http: { method: 'GET' } } };
let requestNumber = 0;
const lambdaContext = () =>
  ({
    functionName: 'bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:bench',
    memoryLimitInMB: '512',
    awsRequestId: `req-${requestNumber++}`,
    logGroupName: '/aws/lambda/bench',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 10_000,
    callbackWaitsForEmptyEventLoop: true,
  }) as never;

const results = await compare(
  [
    { name: 'bare handler (Request → Response)', run: () => bare(new Request('http://localhost/orders')) },
    { name: 'kernel, no telemetry, 1 log line', run: kernel.run },
    { name: 'kernel + telemetry, unsampled, EMF, 1 log + access', run: unsampled.run },
    { name: 'kernel + telemetry, sampled, EMF, 1 log + access', run: sampled.run },
    { name: 'bare Lambda handler (event → object)', run: () => bareLambda(lambdaEvent) },
    {
      name: 'Middy + Powertools Logger/Metrics/Tracer, 1 log + 1 metric',
      run: () => powertools(lambdaEvent, lambdaContext()),
    },
    {
      name: "kernel + telemetry, sampled into the SDK's BatchSpanProcessor, EMF, 1 log + access",
      run: sampledSdk.run,
    },
  ],
  { rounds: 7, iterations: 3_000, warmup: 2_000 },
);
restoreStdout();
printComparison('Per-invocation cost (warm)', results);
const at = (i: number) => results[i]!.nsPerOp;
printTable(
  'Telemetry overhead over its own baseline',
  ['stack', 'overhead per invocation', 'vs Powertools stack'],
  [
    [
      'Sidecarless telemetry, sampled (vs bare handler)',
      us(at(3) - at(0)),
      times((at(3) - at(0)) / (at(5) - at(4))),
    ],
    [
      'Sidecarless telemetry, unsampled (vs bare handler)',
      us(at(2) - at(0)),
      times((at(2) - at(0)) / (at(5) - at(4))),
    ],
    [
      'Sidecarless telemetry alone, sampled (vs kernel)',
      us(at(3) - at(1)),
      times((at(3) - at(1)) / (at(5) - at(4))),
    ],
    [
      "Sidecarless telemetry, sampled into the SDK's BatchSpanProcessor (vs bare handler)",
      us(at(6) - at(0)),
      times((at(6) - at(0)) / (at(5) - at(4))),
    ],
    ['Powertools under Middy (vs bare Lambda handler)', us(at(5) - at(4)), times(1)],
  ],
);

// --- log correlation ----------------------------------------------------------------------
// Trace ids ride on ctx.log as child bindings (serialised once per invocation). What that costs
// against a child without them, for an invocation that logs once and one that logs three times.
const correlation = createMesh({ service: 'bench', logging: { destination: sink } });
const invocationBindings = { invocation_id: 'abc', platform: 'aws-lambda', cold_start: false };
const traceBindings = {
  ...invocationBindings,
  trace_id: '0af7651916cd43dd8448eb211c80319c',
  span_id: 'b7ad6b7169203331',
  trace_flags: '01',
};
const logLines = (bindings: Record<string, unknown>, lines: number) => () => {
  const log = correlation.log.child(bindings);
  for (let i = 0; i < lines; i++) log.info({ item: i }, 'handled');
};
printComparison(
  'Log correlation: ctx.log child with and without trace ids',
  await compare(
    [
      { name: 'child without trace ids, 1 line', run: logLines(invocationBindings, 1) },
      { name: 'child with trace ids, 1 line', run: logLines(traceBindings, 1) },
      { name: 'child without trace ids, 3 lines', run: logLines(invocationBindings, 3) },
      { name: 'child with trace ids, 3 lines', run: logLines(traceBindings, 3) },
    ],
    { rounds: 5, iterations: 3_000, warmup: 1_000 },
  ),
);

console.log(`\n(${sunk} bytes of log and EMF output went to the in-memory sink)`);
await Promise.all([
  kernel.mesh.close(),
  unsampled.mesh.close(),
  sampled.mesh.close(),
  sampledSdk.mesh.close(),
]);
