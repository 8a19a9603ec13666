/**
 * `pnpm demo`: the order-processing mesh on one machine. Four functions, each written once,
 * run as real processes on 127.0.0.1 on three platforms' contracts:
 *
 * - orders on AWS Lambda: inside aws-lambda-ric, driven by a Runtime API server, behind a small
 *   API Gateway (HTTP API) front;
 * - inventory on Knative Serving (stock queries) and Knative Eventing (stock events), terminating mTLS;
 * - payments on OpenFaaS, behind the of-watchdog stand-in, and terminating mTLS on its own port;
 * - notifications on Knative Eventing (CloudEvents), terminating mTLS.
 *
 * The demo mints a CA (SPIFFE identities) and a JWT issuer, starts an OTLP receiver, runs the
 * scenarios, prints what each did, a metrics summary scraped from the functions and one
 * order's trace as a waterfall, then stops every process. Exits 0 only when every scenario
 * behaved as designed. `--keep` leaves the functions running and prints curl lines.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import {
  createCa,
  createSigningKey,
  nowSeconds,
  type OtlpReceiver,
  type RunningWatchdog,
  startJwksServer,
  startOtlpReceiver,
  startRedisServer,
  startRuntimeApi,
  startWatchdog,
} from '@sidecarless/testing';
import { principal, spiffe } from '../functions/environment.ts';
import { stockAdjusted } from '../functions/inventory.ts';
import { startApiGatewayFront } from './api-gateway.ts';
import { type MeshPolicyMount, meshPolicyReloadScenario, mountMeshPolicy } from './mesh-policy.ts';
import { type Sample, scrape, total } from './metrics.ts';
import { type FunctionProcess, freePorts, ProcessGroup, waitUntil } from './processes.ts';
import { rateLimitScenario } from './rate-limits.ts';
import { trafficScenarios } from './traffic.ts';
import { formatWaterfall, waterfallRows } from './waterfall.ts';

const here = join(import.meta.dirname, '..');
const keep = process.argv.includes('--keep');
const verbose = process.argv.includes('--verbose');
/** The orders function's Lambda timeout: the budget the whole chain shares. */
const ordersTimeoutMs = 2_000;
const startupTimeoutMs = 30_000;
/** orders' per-user limit, shared by its instances through Redis (scenario 15). */
const ordersPerUserPerMinute = 20;

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
const group = new ProcessGroup();
const failures: string[] = [];
const workDir = mkdtempSync(join(tmpdir(), 'sidecarless-demo-'));
group.onStop(async () => rmSync(workDir, { recursive: true, force: true }));

/** deploy/mesh-policy.yaml as the functions' ConfigMap, mounted once the issuer is known. */
let mountedPolicy: MeshPolicyMount | undefined;
function meshPolicy(): MeshPolicyMount {
  if (!mountedPolicy) throw new Error('the mesh policy is mounted after the identity is minted');
  return mountedPolicy;
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping every function…`);
    void group.stop(1_000).finally(() => process.exit(130));
  });
}
// Last resort (an uncaught error on the way out): no orphan processes.
process.on('exit', () => group.killNow());

function verify(condition: boolean, what: string): boolean {
  if (!condition) failures.push(what);
  return condition;
}

// ── Identity: a CA for the mesh, a JWT issuer ──────────────────────────────────────────────
async function mintIdentity() {
  const ca = await createCa({ commonName: 'shop mesh demo CA' });
  const write = (name: string, text: string) => {
    const path = join(workDir, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  const caFile = write('ca.pem', ca.cert);
  const files: Record<string, { cert: string; key: string }> = {};
  // One certificate per workload; `warehouse` is the demo itself, playing the system that
  // reports stock changes (and may read stock levels).
  for (const name of ['orders', 'inventory', 'payments', 'notifications', 'warehouse'] as const) {
    const material = await ca.issue({ commonName: name, uris: [spiffe[name]], usage: 'both' });
    files[name] = { cert: write(`${name}.pem`, material.cert), key: write(`${name}-key.pem`, material.key) };
  }
  const signingKey = createSigningKey('ES256', 'demo-issuer-1');
  const jwks = await startJwksServer([signingKey.jwk]);
  group.onStop(() => jwks.close());
  const issuer = new URL(jwks.url).origin;
  const token = (sub: string, aud: string, extra: Record<string, unknown> = {}) =>
    signingKey.sign({ iss: issuer, sub, aud, iat: nowSeconds(), exp: nowSeconds() + 900, ...extra });
  return {
    caFile,
    files,
    issuer,
    jwksUri: jwks.url,
    tokens: {
      alice: await token('alice', 'orders', { scope: 'orders:write' }),
      bob: await token('bob', 'orders', { scope: 'orders:write' }),
      carol: await token('carol', 'orders', { scope: 'orders:write' }),
    },
  };
}

type Identity = Awaited<ReturnType<typeof mintIdentity>>;

/**
 * Sends one request over mTLS, presenting the certificate of workload `as` (none when
 * undefined), trusting only the demo CA. Resolves the outcome; status 0 when the connection or
 * the handshake failed.
 */
function mtls(
  url: string,
  identity: Identity,
  as: string | undefined,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Outcome> {
  const at = performance.now();
  const files = as === undefined ? undefined : identity.files[as];
  return new Promise((resolve) => {
    const outcome = (status: number, text: string) => {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = text ? { text } : {};
      }
      resolve({ status, body, ms: Math.round(performance.now() - at) });
    };
    const request = httpsRequest(
      url,
      {
        method: init.method ?? 'GET',
        headers: init.headers,
        ca: readFileSync(identity.caFile),
        ...(files ? { cert: readFileSync(files.cert), key: readFileSync(files.key) } : {}),
        agent: false,
        timeout: 2_000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => outcome(response.statusCode ?? 0, text));
        response.on('error', () => outcome(0, ''));
      },
    );
    request.on('error', () => outcome(0, ''));
    request.on('timeout', () => request.destroy());
    request.end(init.body);
  });
}

/** True when an mTLS handshake with 127.0.0.1:`port` completes (as the warehouse); sends no request. */
function handshakes(port: number, identity: Identity): Promise<boolean> {
  const files = identity.files.warehouse!;
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(identity.caFile),
      cert: readFileSync(files.cert),
      key: readFileSync(files.key),
    });
    socket.once('secureConnect', () => {
      socket.end();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/** GETs `url` over mTLS as workload `as` (no certificate when undefined); the status, or 0 on failure. */
async function mtlsStatus(url: string, identity: Identity, as: string | undefined): Promise<number> {
  return (await mtls(url, identity, as)).status;
}

// ── Starting the functions ────────────────────────────────────────────────────────────────
function baseEnv(identity: Identity, receiver: OtlpReceiver, name: string, metricsPort: number) {
  const files = identity.files[name];
  return {
    PATH: process.env.PATH,
    TZ: 'UTC',
    LOG_LEVEL: 'info',
    MESH_POLICY_DIR: meshPolicy().dir,
    OTLP_TRACES_ENDPOINT: receiver.url,
    METRICS_PORT: String(metricsPort),
    MESH_CA_FILE: identity.caFile,
    ...(files ? { MESH_CERT_FILE: files.cert, MESH_KEY_FILE: files.key } : {}),
  };
}

async function timed<T>(label: string, start: () => Promise<T>): Promise<T> {
  const at = performance.now();
  console.log(`  … starting ${label}`);
  const result = await start();
  console.log(`  ✓ ${label} ready in ${Math.round(performance.now() - at)} ms`);
  return result;
}

async function startKnativeFunction(
  name: 'inventory' | 'notifications',
  identity: Identity,
  receiver: OtlpReceiver,
  metricsPort: number,
  port: number,
  eventsPort?: number,
): Promise<{ process: FunctionProcess; url: string; eventsUrl: string | undefined }> {
  const child = group.spawn(name, [join(here, 'platforms', `${name}-knative.ts`)], {
    ...baseEnv(identity, receiver, name, metricsPort),
    PORT: String(port),
    ...(eventsPort === undefined ? {} : { EVENTS_PORT: String(eventsPort) }),
    K_SERVICE: name,
    K_REVISION: `${name}-00001`,
    K_CONFIGURATION: name,
  });
  const url = `https://127.0.0.1:${port}`;
  const eventsUrl = eventsPort === undefined ? undefined : `https://127.0.0.1:${eventsPort}`;
  for (const base of [url, eventsUrl]) {
    if (base === undefined) continue;
    await waitUntil(
      async () => (await mtlsStatus(`${base}/health/readiness`, identity, 'warehouse')) === 200,
      startupTimeoutMs,
      name,
      () => child.exited,
    );
  }
  return { process: child, url, eventsUrl };
}

/**
 * payments: the watchdog stand-in starts the function and proxies the gateway path to its
 * `http_port`; the function also terminates mTLS on `MESH_PORT`, the path mesh callers use.
 */
async function startPayments(
  identity: Identity,
  receiver: OtlpReceiver,
  metricsPort: number,
  meshPort: number,
) {
  const watchdog: RunningWatchdog = await startWatchdog({
    command: process.execPath,
    args: [join(here, 'platforms', 'payments-openfaas.ts')],
    env: { ...baseEnv(identity, receiver, 'payments', metricsPort), MESH_PORT: String(meshPort) } as Record<
      string,
      string
    >,
    execTimeout: '5s',
    startupTimeoutMs,
  });
  const child = group.adopt('payments', watchdog.child, () => watchdog.close());
  const meshUrl = `https://127.0.0.1:${meshPort}`;
  // No probe path on OpenFaaS (every path is the function's, and a request would be an
  // invocation): a completed mTLS handshake means the mesh listener is up.
  await waitUntil(
    () => handshakes(meshPort, identity),
    startupTimeoutMs,
    'payments (mTLS port)',
    () => child.exited,
  );
  return { process: child, gatewayUrl: watchdog.url, meshUrl };
}

async function startOrders(
  identity: Identity,
  receiver: OtlpReceiver,
  metricsPort: number,
  upstreams: { inventory: string; payments: string; notifications: string },
  redisUrl: string,
  instance = 1,
) {
  const api = await startRuntimeApi();
  const taskRoot = join(here, 'platforms');
  const name = instance === 1 ? 'orders' : `orders-${instance}`;
  const child = group.spawn(
    name,
    [join(here, 'node_modules', 'aws-lambda-ric', 'index.mjs')],
    {
      ...baseEnv(identity, receiver, 'orders', metricsPort),
      AWS_LAMBDA_RUNTIME_API: api.address,
      _HANDLER: 'orders-lambda.handler',
      LAMBDA_TASK_ROOT: taskRoot,
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_FUNCTION_NAME: 'orders',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/orders',
      AWS_LAMBDA_LOG_STREAM_NAME: 'demo/[$LATEST]local',
      AWS_REGION: 'us-east-1',
      INVENTORY_URL: upstreams.inventory,
      PAYMENTS_URL: upstreams.payments,
      NOTIFICATIONS_URL: upstreams.notifications,
      REDIS_URL: redisUrl,
      ORDERS_PER_USER_PER_MINUTE: String(ordersPerUserPerMinute),
    },
    taskRoot,
  );
  group.onStop(() => api.close());
  // The client polls /next once the handler module has loaded (the mesh is created by then).
  await waitUntil(
    () => api.polls > 0,
    startupTimeoutMs,
    name,
    () => child.exited,
  );
  const front = await startApiGatewayFront(api, ordersTimeoutMs);
  group.onStop(() => front.close());
  return { process: child, url: front.url };
}

// ── Showing what happened ───────────────────────────────────────────────────────────────────
const seen = new Map<string, number>();

/** The functions' log lines written since the last call (JSON lines; access lines skipped). */
function newLogLines(processes: readonly FunctionProcess[]): string[] {
  const lines: string[] = [];
  for (const entry of processes) {
    const output = entry.output();
    const from = seen.get(entry.name) ?? 0;
    seen.set(entry.name, output.length);
    for (const line of output.slice(from).split('\n')) {
      const start = line.indexOf('{');
      if (start < 0) continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line.slice(start)) as Record<string, unknown>;
      } catch {
        continue;
      }
      if (record.msg === 'access' && !verbose) continue;
      const { level, msg } = record;
      const details = Object.entries(record)
        .filter(([key]) =>
          [
            'orderId',
            'attempt',
            'card',
            'code',
            'caller',
            'peer',
            'reason',
            'policy',
            'remainingMs',
            'status',
            'sku',
          ].includes(key),
        )
        .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
        .join(' ');
      lines.push(
        `${entry.name.padEnd(13)} ${String(level).padEnd(5)} ${String(msg)}${details ? `  ${details}` : ''}`,
      );
    }
  }
  return lines;
}

/** True when `entry` wrote a JSON log line with every field of `fields` at the given value. */
function logged(entry: FunctionProcess, fields: Record<string, string>): boolean {
  return entry
    .output()
    .split('\n')
    .some((line) => {
      if (!line.startsWith('{')) return false;
      try {
        const record = JSON.parse(line) as Record<string, unknown>;
        return Object.entries(fields).every(([key, value]) => record[key] === value);
      } catch {
        return false;
      }
    });
}

interface Outcome {
  status: number;
  body: Record<string, unknown>;
  ms: number;
}

async function send(url: string, init: RequestInit): Promise<Outcome> {
  const at = performance.now();
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, body, ms: Math.round(performance.now() - at) };
}

async function scenario(
  title: string,
  processes: readonly FunctionProcess[],
  run: () => Promise<Outcome | undefined>,
  check: (outcome: Outcome | undefined) => string | undefined,
): Promise<Outcome | undefined> {
  console.log(`\n── ${title}`);
  const outcome = await run();
  if (outcome) {
    const shown = { ...outcome.body };
    delete shown.traceId;
    console.log(`   ← ${outcome.status} in ${outcome.ms} ms ${JSON.stringify(shown)}`);
  }
  // Give the functions' log lines a moment to reach the pipes.
  await new Promise((resolve) => setTimeout(resolve, 60));
  for (const line of newLogLines(processes)) console.log(`     ${line}`);
  const problem = check(outcome);
  if (problem) {
    failures.push(`${title}: ${problem}`);
    console.log(`   ✗ ${problem}`);
  } else {
    console.log('   ✓ as designed');
  }
  return outcome;
}

// ── The run ─────────────────────────────────────────────────────────────────────────────────
async function main(): Promise<void> {
  console.log('Sidecarless order-processing demo: four functions, three platforms, one machine\n');
  console.log('Starting the mesh (CA, issuer, OTLP receiver) and the functions:');
  const identity = await timed('demo CA (SPIFFE identities) and JWT issuer', mintIdentity);
  mountedPolicy = mountMeshPolicy(here, identity);
  const policy = mountedPolicy;
  group.onStop(async () => policy.remove());
  console.log(
    `  ✓ deploy/mesh-policy.yaml mounted as a ConfigMap volume (${policy.dir}): the functions load it`,
  );
  const receiver = await startOtlpReceiver();
  group.onStop(() => receiver.close());
  console.log(`  ✓ OTLP receiver on ${receiver.url}`);

  // The Redis both orders instances keep their shared rate limit in (Debian's redis-server).
  const store = await timed('Redis (shared state: the orders instances share one rate limit)', () =>
    startRedisServer(),
  );
  group.onStop(() => store.close());

  // Nine distinct ports: five for the functions' /metrics (two orders instances), three for the
  // Knative listeners, one for payments' mTLS listener.
  const ports = await freePorts(9);
  const port = (index: number) => ports[index]!;
  const metricsPorts = { orders: port(0), inventory: port(1), payments: port(2), notifications: port(3) };
  const inventoryPort = port(4);
  const notificationsPort = port(5);
  const inventoryEventsPort = port(6);
  const paymentsMeshPort = port(7);
  const [inventory, notifications, payments] = await Promise.all([
    timed('inventory on Knative (stock queries and a CloudEvents sink for stock events, mTLS)', () =>
      startKnativeFunction(
        'inventory',
        identity,
        receiver,
        metricsPorts.inventory,
        inventoryPort,
        inventoryEventsPort,
      ),
    ),
    timed('notifications on Knative Eventing (CloudEvents, mTLS)', () =>
      startKnativeFunction(
        'notifications',
        identity,
        receiver,
        metricsPorts.notifications,
        notificationsPort,
      ),
    ),
    timed('payments on OpenFaaS (behind the watchdog; mTLS on its own port)', () =>
      startPayments(identity, receiver, metricsPorts.payments, paymentsMeshPort),
    ),
  ]);
  const ordersUpstreams = {
    inventory: inventory.url,
    payments: payments.meshUrl,
    notifications: notifications.url,
  };
  const [orders, ordersSecond] = await Promise.all([
    timed('orders on AWS Lambda (aws-lambda-ric + Runtime API + API Gateway front)', () =>
      startOrders(identity, receiver, metricsPorts.orders, ordersUpstreams, store.url),
    ),
    timed('a second orders instance (its own runtime, the same Redis)', () =>
      startOrders(identity, receiver, port(8), ordersUpstreams, store.url, 2),
    ),
  ]);
  const all = [
    orders.process,
    ordersSecond.process,
    inventory.process,
    payments.process,
    notifications.process,
  ];
  console.log(`All four functions ready (orders as two instances) at ${elapsed()}.`);
  console.log(
    `Function processes: ${all.map((entry) => `${entry.name} (pid ${entry.child.pid})`).join(', ')}`,
  );

  const placeOrder = (card: string, token: string | undefined = identity.tokens.alice, sku = 'book-42') =>
    send(`${orders.url}/orders`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ sku, quantity: 1, card }),
    });

  await scenario(
    '1. an order without a token is refused by orders: shoppers-place-orders (loaded from deploy/mesh-policy.yaml) needs a token with scope orders:write — 403, as Istio answers',
    all,
    () => placeOrder('visa', ''),
    (o) => (o?.status === 403 ? undefined : `expected 403, got ${o?.status}`),
  );

  const happy = await scenario(
    '2. alice places an order: orders → inventory (mTLS) → payments (mTLS, only orders may charge) → notifications (CloudEvent, mTLS)',
    all,
    () => placeOrder('visa'),
    (o) => {
      if (o?.status !== 201) return `expected 201, got ${o?.status}`;
      if (o.body.paymentAttempts !== 1) return `expected one payment attempt, got ${o.body.paymentAttempts}`;
      if (o.body.notified !== true) return 'notifications did not acknowledge the event';
      if (o.body.user !== 'alice') return `expected user alice, got ${o.body.user}`;
      return undefined;
    },
  );
  verify(
    logged(inventory.process, { msg: 'stock checked', caller: spiffe.orders }),
    "inventory did not see orders' SPIFFE identity (ctx.peer) on the mTLS connection",
  );
  verify(
    logged(payments.process, { msg: 'card charged', caller: spiffe.orders }),
    "payments did not see orders' SPIFFE identity (ctx.peer) on the mTLS connection",
  );

  await scenario(
    '3. payments fails twice (503): orders retries and the order goes through',
    all,
    () => placeOrder('flaky'),
    (o) =>
      o?.status === 201 && o.body.paymentAttempts === 3
        ? undefined
        : `expected 201 after 3 attempts, got ${o?.status} after ${o?.body.paymentAttempts}`,
  );

  await scenario(
    '4. payments is down: three failed attempts open the circuit breaker',
    all,
    () => placeOrder('down'),
    (o) => (o?.status === 503 ? undefined : `expected 503, got ${o?.status}`),
  );

  await scenario(
    '5. while the circuit is open, orders fails fast without calling payments',
    all,
    () => placeOrder('visa'),
    (o) =>
      o?.status === 503 && o.body.code === 'SCL_ERR_CIRCUIT_OPEN'
        ? undefined
        : `expected 503 SCL_ERR_CIRCUIT_OPEN, got ${o?.status} ${String(o?.body.code)}`,
  );

  await scenario(
    '6. after halfOpenAfter (1.5s) one trial call succeeds and the circuit closes again',
    all,
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      return placeOrder('visa');
    },
    (o) => (o?.status === 201 ? undefined : `expected 201, got ${o?.status}`),
  );

  await scenario(
    `7. payments hangs: the shared deadline (orders' ${ordersTimeoutMs} ms Lambda timeout) cuts the call in both functions`,
    all,
    async () => {
      const outcome = await placeOrder('slow');
      // payments logs when its signal fires; on a loaded machine that line can trail the answer.
      const abandoned = () => payments.process.output().includes("charge abandoned at the caller's deadline");
      await waitUntil(abandoned, 1_500, 'payments').catch(() => {});
      return outcome;
    },
    (o) => {
      // Whichever side notices first — payments at the deadline orders sent it
      // (x-sidecarless-deadline-ms), or orders' own upstream timeout — the order ends in a 504
      // before the Lambda timeout.
      if (o?.status !== 504) return `expected 504, got ${o?.status}`;
      // Measured by this client, so it includes the front's and the runtime client's overhead;
      // without the shared deadline, payments would hang until the watchdog's 5 s exec_timeout.
      if (o.ms >= ordersTimeoutMs + 500) return `took ${o.ms} ms; the deadline was ${ordersTimeoutMs} ms`;
      if (!payments.process.output().includes("charge abandoned at the caller's deadline"))
        return 'payments did not stop at the deadline orders sent';
      return undefined;
    },
  );

  const charge = JSON.stringify({ orderId: 'ord_forged', card: 'visa' });
  await scenario(
    "8. mTLS policy: inventory, with its own valid mesh certificate, asks payments for a charge — 403, only orders' identity may charge",
    all,
    () =>
      mtls(`${payments.meshUrl}/charges`, identity, 'inventory', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: charge,
      }),
    (o) => {
      if (o?.status !== 403) return `expected 403, got ${o?.status}`;
      if (!logged(payments.process, { reason: 'policy_denied', peer: principal(spiffe.inventory) }))
        return "payments did not log the denial with inventory's identity";
      return undefined;
    },
  );

  await scenario(
    '9. the OpenFaaS gateway path (plain HTTP through the watchdog) carries no client certificate — 403, never a plaintext fallback',
    all,
    () =>
      send(`${payments.gatewayUrl}/charges`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: charge,
      }),
    (o) => {
      if (o?.status !== 403) return `expected 403, got ${o?.status}`;
      if (!logged(payments.process, { reason: 'mtls_required' })) return 'payments did not log mtls_required';
      return undefined;
    },
  );

  const probes: Record<string, number> = {};
  await scenario(
    '10. inventory: a reader on its list gets stock, another mesh workload gets 403, a client without a certificate is refused at the handshake',
    all,
    async () => {
      const stockUrl = `${inventory.url}/stock/book-42`;
      probes.warehouse = await mtlsStatus(stockUrl, identity, 'warehouse');
      probes.payments = await mtlsStatus(stockUrl, identity, 'payments');
      probes.none = await mtlsStatus(stockUrl, identity, undefined);
      const refused = probes.none === 0 ? 'handshake refused' : String(probes.none);
      console.log(
        `   ← warehouse's certificate: ${probes.warehouse}; payments' certificate: ${probes.payments}; no certificate: ${refused}`,
      );
      return undefined;
    },
    () =>
      probes.warehouse !== 200
        ? `expected 200 for the warehouse, got ${probes.warehouse}`
        : probes.payments !== 403
          ? `expected 403 for payments (not on inventory's list), got ${probes.payments}`
          : probes.none !== 0
            ? `inventory answered ${probes.none} to a client without a certificate`
            : undefined,
  );

  const stockSteps: Outcome[] = [];
  await scenario(
    `11. stock event: poster-1 is sold out (409); the warehouse sends inventory a ${stockAdjusted} CloudEvent (202); the next order goes through (201)`,
    all,
    async () => {
      stockSteps.push(await placeOrder('visa', identity.tokens.alice, 'poster-1'));
      stockSteps.push(
        await mtls(`${inventory.eventsUrl}/`, identity, 'warehouse', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'ce-specversion': '1.0',
            'ce-id': 'stock-adjusted-1',
            'ce-type': stockAdjusted,
            'ce-source': '/shop/warehouse',
          },
          body: JSON.stringify({ sku: 'poster-1', delta: 5 }),
        }),
      );
      stockSteps.push(await placeOrder('visa', identity.tokens.alice, 'poster-1'));
      const [before, event, after] = stockSteps;
      console.log(
        `   ← before: ${before?.status} ${JSON.stringify(before?.body.error)}; event: ${event?.status}; after: ${after?.status}`,
      );
      return undefined;
    },
    () => {
      const [before, event, after] = stockSteps.map((step) => step.status);
      if (before !== 409) return `expected 409 before the event, got ${before}`;
      if (event !== 202) return `expected inventory to accept the event with 202, got ${event}`;
      if (after !== 201) return `expected 201 after the event, got ${after}`;
      return undefined;
    },
  );

  // ── Traffic management: the calls orders makes, routed in-process ──
  await trafficScenarios((title, run, check) => scenario(title, [], run, () => check()), 12);

  // ── Rate limits: one per-user limit for every orders instance, in Redis ──
  await rateLimitScenario(
    // Its 26 log lines are left out; the summary line says what the two instances answered.
    (title, run, check) => scenario(title, [], run, () => check()),
    15,
    [orders.url, ordersSecond.url],
    identity.tokens.bob,
    ordersPerUserPerMinute,
  );

  // ── Live reload: the policy is the mounted ConfigMap's, followed as it changes ──
  newLogLines([orders.process, ordersSecond.process]); // the rate-limit scenario's lines stay left out
  await meshPolicyReloadScenario(
    (title, run, check) => scenario(title, [orders.process, ordersSecond.process], run, () => check()),
    16,
    [orders.url, ordersSecond.url],
    identity.tokens.carol,
    policy,
  );

  // ── Metrics, scraped from every function ──
  console.log('\n── Metrics scraped from the functions (Prometheus /metrics)');
  const scraped: Record<string, Sample[]> = {};
  for (const [name, port] of Object.entries(metricsPorts)) {
    scraped[name] = await scrape(`http://127.0.0.1:${port}/metrics`).catch((error: Error) => {
      failures.push(`metrics of ${name}: ${error.message}`);
      return [];
    });
  }
  const header = `   ${'function'.padEnd(14)}${'invocations'.padStart(12)}${'errors'.padStart(8)}${'upstream calls'.padStart(16)}${'retries'.padStart(9)}  circuit(payments)`;
  console.log(header);
  for (const [name, samples] of Object.entries(scraped)) {
    const circuit = samples.find(
      (s) => s.name === 'serverless_upstream_circuit_open' && s.labels.upstream === 'payments',
    );
    console.log(
      `   ${name.padEnd(14)}${String(total(samples, 'serverless_function_invocations_total')).padStart(12)}${String(total(samples, 'serverless_function_errors_total')).padStart(8)}${String(total(samples, 'serverless_upstream_requests_total')).padStart(16)}${String(total(samples, 'serverless_upstream_retries_total')).padStart(9)}  ${circuit === undefined ? '-' : circuit.value === 1 ? 'open' : 'closed'}`,
    );
  }
  const ordersMetrics = scraped.orders ?? [];
  const paymentCodes = ordersMetrics
    .filter((s) => s.name === 'serverless_upstream_requests_total' && s.labels.upstream === 'payments')
    .map((s) => `${s.labels.code}×${s.value}`)
    .join(', ');
  console.log(`   orders → payments attempts by outcome: ${paymentCodes}`);
  verify(
    total(ordersMetrics, 'serverless_upstream_retries_total', { upstream: 'payments' }) >= 4,
    'orders did not count the payment retries',
  );

  if (keep) {
    printCurlLines(
      identity,
      {
        orders: orders.url,
        inventory: inventory.url,
        inventoryEvents: inventory.eventsUrl ?? '',
        payments: payments.meshUrl,
        paymentsGateway: payments.gatewayUrl,
      },
      metricsPorts,
    );
  }

  // ── One order's trace ──
  const traceId = typeof happy?.body.traceId === 'string' ? happy.body.traceId : undefined;
  if (!keep) {
    // SIGTERM: the container functions drain and flush their spans before exiting.
    console.log('\nStopping the functions (SIGTERM: drain, flush spans)…');
    await group.stop();
  }
  const traceSpans = () => receiver.spans.filter((span) => span.traceId === traceId);
  const servicesIn = () => new Set(traceSpans().map((span) => String(span.resource['service.name'])));
  await waitUntil(() => servicesIn().size >= 4, 5_000, 'trace').catch(() => {});
  console.log(`\n── The trace of alice's order (${traceId ?? 'no trace id'}): ${traceSpans().length} spans`);
  for (const line of formatWaterfall(waterfallRows(traceSpans()))) console.log(`   ${line}`);
  verify(traceId !== undefined, 'orders did not return a trace id');
  for (const service of ['orders', 'inventory', 'payments', 'notifications']) {
    verify(servicesIn().has(service), `the order's trace has no span from ${service}`);
  }

  if (keep) {
    console.log(
      failures.length === 0
        ? `\ndemo OK: every scenario behaved as designed in ${elapsed()}`
        : `\ndemo FAILED:\n  - ${failures.join('\n  - ')}`,
    );
    console.log('\nThe functions keep running. Press Ctrl-C to stop them.');
    await new Promise(() => {});
  }
}

function printCurlLines(
  identity: Identity,
  urls: {
    orders: string;
    inventory: string;
    inventoryEvents: string;
    payments: string;
    paymentsGateway: string;
  },
  metricsPorts: Record<string, number>,
): void {
  const dir = join(identity.caFile, '..');
  // curl presenting workload `name`'s mesh certificate and trusting only the demo CA.
  const as = (name: string) =>
    `curl -s --cacert ${dir}/ca.pem --cert ${dir}/${name}.pem --key ${dir}/${name}-key.pem`;
  const json = `-H 'content-type: application/json'`;
  console.log('\n── Try it by hand (demo tokens, valid for 15 minutes):');
  console.log(
    `   curl -s -X POST ${urls.orders}/orders -H 'authorization: Bearer ${identity.tokens.alice}' ${json} -d '{"sku":"book-42","quantity":1,"card":"visa"}'`,
  );
  console.log(
    `   curl -s -X POST ${urls.orders}/orders -d '{}'   # no token, which the loaded policy needs: 403`,
  );
  console.log(
    `   ${as('orders')} -X POST ${urls.payments}/charges ${json} -d '{"orderId":"by-hand","card":"visa"}'   # as orders: 201`,
  );
  console.log(
    `   ${as('inventory')} -X POST ${urls.payments}/charges ${json} -d '{"orderId":"by-hand","card":"visa"}'   # as inventory: 403`,
  );
  console.log(
    `   curl -s -X POST ${urls.paymentsGateway}/charges -d '{}'   # the gateway path, no certificate: 403`,
  );
  console.log(`   ${as('warehouse')} ${urls.inventory}/stock/poster-1   # as the warehouse: 200`);
  console.log(
    `   ${as('warehouse')} -X POST ${urls.inventoryEvents}/ -H 'ce-specversion: 1.0' -H 'ce-id: by-hand-1' -H 'ce-type: ${stockAdjusted}' -H 'ce-source: /shop/warehouse' ${json} -d '{"sku":"poster-1","delta":3}'   # a stock event: 202`,
  );
  for (const [name, port] of Object.entries(metricsPorts)) {
    console.log(`   curl -s http://127.0.0.1:${port}/metrics   # ${name}`);
  }
}

try {
  await main();
} catch (error) {
  failures.push(`the demo stopped: ${(error as Error).message}`);
}
if (!stopping) {
  await group.stop();
  if (failures.length > 0) {
    for (const entry of group.processes) {
      const tail = entry.output().trim().split('\n').slice(-15).join('\n     ');
      if (tail) console.error(`\n── last output of ${entry.name}:\n     ${tail}`);
    }
    console.error(`\ndemo FAILED after ${elapsed()}:\n  - ${failures.join('\n  - ')}`);
    process.exit(1);
  }
  console.log(`\ndemo OK: every scenario behaved as designed in ${elapsed()}`);
}
