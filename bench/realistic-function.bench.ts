/**
 * Cold start and warm cost of a realistic Lambda function, per feature, against the same
 * function wired by hand and with Middy + Powertools.
 *
 * The function: API Gateway v2 `POST /v1/orders` with an ES256 bearer JWT checked against a local
 * JWKS, a scope policy, one SERVER span into an injected exporter, one log line, EMF metrics, a
 * stock check through an upstream with retry, breaker and timeout (`.call()`, in-process work),
 * flushed before it returns. Each sample is a fresh process; every candidate, form and Node
 * runs once per round, interleaved, so machine drift hits them alike.
 *
 * Forms: one minified esbuild file, CommonJS (SAM's default) and ESM, and the packages from
 * node_modules. Figures per candidate (medians over rounds):
 *   - bundle: the minified CommonJS file's size;
 *   - ready: process start → handler module loaded, minus the same for an empty module in the
 *     same round (what the function adds to bare Node);
 *   - first: the first invocation, on its own;
 *   - RSS: peak resident set size after the first invocation;
 *   - warm: per invocation, over 2,000 invocations after 500 to warm up.
 *
 * Run: `node bench/realistic-function.bench.ts`. `BENCH_NODES=/path/node22,/path/node24` runs
 * each candidate on those Node binaries in the same rounds (default: this one); `ROUNDS=10`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { deployedBundle, median, printTable, times } from './lib.ts';

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const work = join(benchDir, '..', '.bench-tmp', 'realistic');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const rounds = Number(process.env.ROUNDS ?? 10);
const nodes = (process.env.BENCH_NODES ?? process.execPath).split(',').filter(Boolean);

// --- the inputs every candidate shares --------------------------------------------------------

const issuer = 'https://id.example.com';
const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const token = await new SignJWT({ scope: 'orders:read orders:write' })
  .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' })
  .setIssuer(issuer)
  .setAudience('orders')
  .setSubject('user-1')
  .setIssuedAt()
  .setExpirationTime('1h')
  .sign(privateKey);
const event = {
  version: '2.0',
  routeKey: 'POST /v1/orders',
  rawPath: '/v1/orders',
  rawQueryString: '',
  headers: {
    host: 'api.example.com',
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    'user-agent': 'bench',
  },
  requestContext: {
    accountId: '123456789012',
    apiId: 'api',
    domainName: 'api.example.com',
    http: {
      method: 'POST',
      path: '/v1/orders',
      protocol: 'HTTP/1.1',
      sourceIp: '203.0.113.7',
      userAgent: 'bench',
    },
    requestId: 'r',
    routeKey: 'POST /v1/orders',
    stage: '$default',
    time: '03/Dec/2026:12:00:00 +0000',
    timeEpoch: 1_796_300_000_000,
  },
  body: '{"sku":"A-1","qty":2}',
  isBase64Encoded: false,
};

// The HTTP upstream of the "+ outbound HTTP" row: a loopback stock service in a process of its
// own (the samples run with spawnSync, which blocks this one's event loop).
const stockServer = spawn(
  process.execPath,
  [
    '-e',
    `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"available":true}'); })
       .listen(0, '127.0.0.1', function () { process.stdout.write(String(this.address().port)); });`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const stockPort = await new Promise<string>((resolve) =>
  stockServer.stdout.once('data', (data) => resolve(String(data))),
);
const stockUrl = `http://127.0.0.1:${stockPort}`;

// --- the candidates -----------------------------------------------------------------------------

const shared = `
const JWKS = ${JSON.stringify({ keys: [jwk] })};
const exporter = { export(spans, done) { done({ code: 0 }); }, shutdown: async () => {} };
const checkStock = async (sku) => ({ sku, available: true });`;

interface SidecarlessShape {
  auth?: boolean;
  telemetry?: boolean;
  upstream?: 'call' | 'http';
  /** How the handler answers: the documented helper, or Node's Fetch `Response.json`. */
  answer: 'helper' | 'Response.json';
}

/** The Sidecarless function, with the features the row names. */
function sidecarless(shape: SidecarlessShape): string {
  const imports = [
    `import { createMesh, json } from '@sidecarless/core';`,
    `import { lambda } from '@sidecarless/lambda';`,
  ];
  const features: string[] = [];
  const sections: string[] = [`service: 'orders'`];
  if (shape.auth) {
    imports.push(`import { auth } from '@sidecarless/auth';`);
    features.push('auth');
    sections.push(`auth: {
      jwt: [{ issuer: ${JSON.stringify(issuer)}, audiences: ['orders'], jwks: JWKS, algorithms: ['ES256'] }],
      policies: [{ name: 'writers', action: 'ALLOW', rules: [{ when: [{ key: 'request.auth.claims[scope]', values: ['orders:write'] }] }] }],
    }`);
  }
  if (shape.telemetry) {
    imports.push(`import { telemetry } from '@sidecarless/telemetry';`);
    features.push('telemetry');
    sections.push(`telemetry: { tracing: { exporter }, metrics: { exporter: 'emf', namespace: 'Orders' } }`);
  }
  if (shape.upstream) {
    imports.push(`import { outbound } from '@sidecarless/outbound';`);
    features.push('outbound');
    const policies = `retries: { attempts: 1 }, circuitBreaker: { consecutiveFailures: 5, halfOpenAfter: '10s' }, timeout: '1s'`;
    if (shape.upstream === 'http') {
      imports.push(`import { http } from '@sidecarless/outbound/http';`);
      features.push('http');
      sections.push(`upstreams: { stock: { url: ${JSON.stringify(stockUrl)}, ${policies} } }`);
    } else {
      sections.push(`upstreams: { stock: { ${policies} } }`);
    }
  }
  const stock =
    shape.upstream === 'http'
      ? `const available = (await (await ctx.upstream('stock').fetch('/stock/' + order.sku)).json()).available;`
      : shape.upstream === 'call'
        ? `const { available } = await ctx.upstream('stock').call(() => checkStock(order.sku));`
        : 'const available = true;';
  const answer = shape.answer === 'helper' ? 'json' : 'Response.json';
  return `${imports.join('\n')}
${shared}
const mesh = createMesh({ ${sections.join(',\n')} }, [${features.join(', ')}]);
export const handler = lambda(mesh, async (request, ctx) => {
  const order = await request.json();
  ctx.log.info({ sku: order.sku }, 'order received');
  ${stock}
  return ${answer}({ id: ctx.invocationId, sku: order.sku, available }, { status: 201 });
});`;
}

/**
 * What the hand-wired and the Middy + Powertools functions share: jose against the local JWKS, the
 * OpenTelemetry SDK into the injected exporter, and cockatiel's retry, breaker and timeout around
 * the stock check.
 */
const byHand = {
  imports: `import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ConsecutiveBreaker, ExponentialBackoff, TimeoutStrategy, circuitBreaker, handleAll, retry, timeout, wrap } from 'cockatiel';
import { createLocalJWKSet, jwtVerify } from 'jose';`,
  setup: `const keys = createLocalJWKSet(JWKS);
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('orders');
const stock = wrap(
  retry(handleAll, { maxAttempts: 1, backoff: new ExponentialBackoff() }),
  circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }),
  timeout(1000, TimeoutStrategy.Aggressive),
);
const reply = (statusCode, body) => ({ statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });`,
};

/** The same function wired by hand: jose, cockatiel, pino and the OpenTelemetry SDK. */
const handWired = `
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
${byHand.imports}
import pino from 'pino';
${shared}
const logger = pino({ base: { service: 'orders' } });
${byHand.setup}
let cold = true;
export const handler = async (event, context) => {
  const started = Date.now();
  const span = tracer.startSpan(event.routeKey, { kind: SpanKind.SERVER, attributes: { 'http.request.method': event.requestContext.http.method, 'url.path': event.rawPath, 'faas.coldstart': cold, 'faas.invocation_id': context.awsRequestId } });
  cold = false;
  let status = 500;
  try {
    const header = event.headers.authorization ?? '';
    if (!header.startsWith('Bearer ')) return reply((status = 401), { error: 'unauthenticated' });
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(header.slice(7), keys, { issuer: ${JSON.stringify(issuer)}, audience: 'orders', algorithms: ['ES256'] }));
    } catch {
      return reply((status = 401), { error: 'unauthenticated' });
    }
    if (!String(claims.scope ?? '').split(' ').includes('orders:write')) return reply((status = 403), { error: 'forbidden' });
    const order = JSON.parse(event.body);
    logger.child({ requestId: context.awsRequestId }).info({ sku: order.sku }, 'order received');
    const { available } = await stock.execute(() => checkStock(order.sku));
    return reply((status = 201), { id: context.awsRequestId, sku: order.sku, available });
  } finally {
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    process.stdout.write(JSON.stringify({ _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: 'Orders', Dimensions: [['service']], Metrics: [{ Name: 'requests', Unit: 'Count' }, { Name: 'duration', Unit: 'Milliseconds' }] }] }, service: 'orders', requests: 1, duration: Date.now() - started }) + '\\n');
    await provider.forceFlush();
  }
};`;

/** Middy + Powertools Logger and Metrics, jose, cockatiel, and the SDK for the span. */
const middyPowertools = `
import middy from '@middy/core';
import parseJson from '@middy/http-json-body-parser';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { SpanKind } from '@opentelemetry/api';
${byHand.imports}
${shared}
const logger = new Logger({ serviceName: 'orders' });
const metrics = new Metrics({ namespace: 'Orders', serviceName: 'orders' });
${byHand.setup}
const tracing = () => ({
  before: (request) => { request.internal.span = tracer.startSpan(request.event.routeKey, { kind: SpanKind.SERVER }); },
  after: async (request) => { request.internal.span.setAttribute('http.response.status_code', request.response.statusCode); request.internal.span.end(); await provider.forceFlush(); },
  onError: async (request) => { request.internal.span?.end(); await provider.forceFlush(); },
});
const authenticate = () => ({
  before: async (request) => {
    const header = request.event.headers.authorization ?? '';
    try {
      const { payload } = await jwtVerify(header.replace(/^Bearer /, ''), keys, { issuer: ${JSON.stringify(issuer)}, audience: 'orders', algorithms: ['ES256'] });
      if (!String(payload.scope ?? '').split(' ').includes('orders:write')) return reply(403, { error: 'forbidden' });
    } catch {
      return reply(401, { error: 'unauthenticated' });
    }
  },
});
export const handler = middy(async (event, context) => {
  logger.info({ message: 'order received', sku: event.body.sku });
  metrics.addMetric('requests', MetricUnit.Count, 1);
  const { available } = await stock.execute(() => checkStock(event.body.sku));
  return reply(201, { id: context.awsRequestId, sku: event.body.sku, available });
}).use(tracing()).use(injectLambdaContext(logger)).use(logMetrics(metrics)).use(authenticate()).use(parseJson());`;

const bareLambda = `export const handler = async (event) => {
  const order = JSON.parse(event.body);
  return { statusCode: 201, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: order.sku }) };
};`;
const bareResponseJson = `export const handler = async (event) => {
  const order = JSON.parse(event.body);
  const response = Response.json({ sku: order.sku }, { status: 201 });
  return { statusCode: response.status, headers: Object.fromEntries(response.headers), body: await response.text() };
};`;

const full = { auth: true, telemetry: true, upstream: 'call' } as const;
const sources: Record<string, string> = {
  'empty module (Node itself)': '',
  'bare handler': bareLambda,
  'bare handler answering Response.json': bareResponseJson,
  'wired by hand (jose, cockatiel, pino, OTel SDK)': handWired,
  'Middy + Powertools (+ jose, cockatiel, OTel SDK)': middyPowertools,
  'Sidecarless kernel': sidecarless({ answer: 'helper' }),
  'Sidecarless + auth': sidecarless({ auth: true, answer: 'helper' }),
  'Sidecarless + auth + telemetry': sidecarless({ auth: true, telemetry: true, answer: 'helper' }),
  'Sidecarless + auth + telemetry + outbound .call() (the function)': sidecarless({
    ...full,
    answer: 'helper',
  }),
  'the function answering Response.json': sidecarless({ ...full, answer: 'Response.json' }),
  'the function with an HTTP upstream': sidecarless({ ...full, upstream: 'http', answer: 'helper' }),
};
const names = Object.keys(sources);
const emptyName = names[0]!;
const handWiredName = names[3]!;

// --- building the forms --------------------------------------------------------------------------

type Form = 'bundled CJS' | 'bundled ESM' | 'node_modules';
const forms: Form[] = ['bundled CJS', 'bundled ESM', 'node_modules'];
const files = new Map<string, string>();
const bundleBytes = new Map<string, number>();
for (const [index, name] of names.entries()) {
  const entry = join(benchDir, `.realistic-${index}.mjs`);
  writeFileSync(entry, sources[name]!);
  try {
    for (const format of ['cjs', 'esm'] as const) {
      const outfile = join(work, `${index}.${format === 'cjs' ? 'cjs' : 'mjs'}`);
      await build({ ...deployedBundle(format), entryPoints: [entry], outfile });
      files.set(`${name}|bundled ${format.toUpperCase()}`, outfile);
      if (format === 'cjs') bundleBytes.set(name, statSync(outfile).size);
    }
  } finally {
    rmSync(entry);
  }
  const resolved = sources[name]!.replace(
    /from '([^']+)'/g,
    (_, id: string) => `from ${JSON.stringify(pathToFileURL(fileURLToPath(import.meta.resolve(id))).href)}`,
  );
  const file = join(work, `${index}.node_modules.mjs`);
  writeFileSync(file, resolved);
  files.set(`${name}|node_modules`, file);
}

// --- the probe: one fresh process per sample ------------------------------------------------------

const probe = join(work, 'probe.cjs');
writeFileSync(
  probe,
  `const { performance } = require('node:perf_hooks');
const { writeSync } = require('node:fs');
const file = process.argv[2];
const load = file.endsWith('.cjs') ? Promise.resolve(require(file)) : import(require('node:url').pathToFileURL(file).href);
load.then(async (fn) => {
  const ready = performance.now();
  // A fresh copy per invocation: Middy's body parser replaces event.body.
  const eventText = ${JSON.stringify(JSON.stringify(event))};
  const fresh = () => JSON.parse(eventText);
  let n = 0;
  const context = () => ({ awsRequestId: 'r-' + n++, functionName: 'orders', getRemainingTimeInMillis: () => 3000 });
  let first = 0, rss = 0, warm = 0;
  if (fn.handler) {
    const started = performance.now();
    const result = await fn.handler(fresh(), context());
    first = performance.now() - started;
    if (result.statusCode !== 201) throw new Error('unexpected answer ' + JSON.stringify(result));
    rss = process.resourceUsage().maxRSS / 1024;
    for (let i = 0; i < 500; i++) await fn.handler(fresh(), context());
    const warmStarted = performance.now();
    for (let i = 0; i < 2000; i++) await fn.handler(fresh(), context());
    warm = ((performance.now() - warmStarted) / 2000) * 1000;
  } else {
    rss = process.resourceUsage().maxRSS / 1024;
  }
  writeSync(3, JSON.stringify({ ready, first, rss, warm }));
});`,
);

interface Sample {
  ready: number;
  first: number;
  rss: number;
  warm: number;
}
const samples = new Map<string, Sample[]>();
const key = (node: string, name: string, form: Form) => `${node}|${name}|${form}`;
const nodeVersion = new Map<string, string>();
for (const node of nodes) {
  nodeVersion.set(node, spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim());
}
const env = {
  ...process.env,
  AWS_LAMBDA_FUNCTION_NAME: 'orders',
  AWS_REGION: 'eu-west-1',
  POWERTOOLS_DEV: '',
};
for (let round = 0; round < rounds; round++) {
  for (const name of names) {
    for (const form of forms) {
      for (const node of nodes) {
        const child = spawnSync(
          node,
          ['--no-experimental-require-module', probe, files.get(`${name}|${form}`)!],
          {
            env,
            stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
            encoding: 'utf8',
          },
        );
        const output = (child.output[3] as string | null) ?? '';
        if (child.status !== 0 || output === '') {
          throw new Error(`${name} (${form}, ${node}) failed: ${child.stderr.slice(-3000)}`);
        }
        const list = samples.get(key(node, name, form)) ?? [];
        list.push(JSON.parse(output) as Sample);
        samples.set(key(node, name, form), list);
      }
    }
  }
}
stockServer.kill();

// --- the tables ------------------------------------------------------------------------------------

const ms = (value: number) => `${value.toFixed(1)} ms`;
for (const node of nodes) {
  for (const form of forms) {
    const of = (name: string) => samples.get(key(node, name, form))!;
    // Ready added to bare Node, round by round, then the median.
    const added = (name: string) =>
      median(of(name).map((sample, round) => sample.ready - of(emptyName)[round]!.ready));
    const field = (name: string, pick: (sample: Sample) => number) => median(of(name).map(pick));
    const handReady = added(handWiredName);
    const handFirst = field(handWiredName, (s) => s.first);
    const handWarm = field(handWiredName, (s) => s.warm);
    printTable(
      `Realistic function, ${form}, Node ${nodeVersion.get(node)}, median of ${rounds} fresh processes`,
      [
        'candidate',
        'bundle (CJS)',
        'ready added',
        'vs hand-wired',
        'first invocation',
        'peak RSS',
        'warm per invocation',
        'warm vs hand-wired',
      ],
      names.map((name) => {
        const ready = added(name);
        const isEmpty = name === emptyName;
        return [
          name,
          isEmpty ? '' : `${(bundleBytes.get(name)! / 1024).toFixed(0)} KB`,
          isEmpty ? ms(field(name, (s) => s.ready)) : ms(ready),
          isEmpty ? '' : times(ready / handReady),
          isEmpty
            ? ''
            : `${field(name, (s) => s.first).toFixed(1)} ms (${times(field(name, (s) => s.first) / handFirst)})`,
          `${field(name, (s) => s.rss).toFixed(0)} MB`,
          isEmpty ? '' : `${field(name, (s) => s.warm).toFixed(0)} µs`,
          isEmpty ? '' : times(field(name, (s) => s.warm) / handWarm),
        ];
      }),
    );
  }
}
rmSync(work, { recursive: true, force: true });
