/**
 * The order-processing deployment files: every Knative and Istio document validates against
 * its resource schema (@kubernetes-models), the SAM template and stack.yml have the shape their
 * tools accept (checked field by field: neither publishes a schema package) and point at entry
 * points that exist, the environment they set is what the functions read, the Istio policy says
 * what the functions enforce, and the Lambda entry bundles into one CommonJS file that loads
 * with require(esm) off, as on the nodejs22.x runtime.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1/VirtualService';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
import { RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication';
import { Trigger } from '@kubernetes-models/knative/eventing.knative.dev/v1/Trigger';
import { Service } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import { loadIstio } from '@sidecarless/istio';
import { createCa } from '@sidecarless/testing';
import { build } from 'esbuild';
import { Service as KubernetesService } from 'kubernetes-models/v1/Service';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { freePorts } from '../demo/processes.ts';
import { principal, spiffe } from '../functions/environment.ts';
import { inventoryOptions } from '../functions/inventory.ts';
import { ordersOptions } from '../functions/orders.ts';
import { paymentsOptions } from '../functions/payments.ts';

const here = import.meta.dirname;
const root = join(here, '..');
const read = (name: string) => readFileSync(join(here, name), 'utf8');
type Doc = { kind: string; apiVersion: string; metadata: { name: string } } & Record<string, unknown>;
const documents = (name: string) => parseAllDocuments(read(name)).map((document) => document.toJS() as Doc);

// CloudFormation's short-form intrinsics (!Ref, !Sub) are YAML tags; keep their argument.
const cloudFormationTags = ['!Ref', '!Sub', '!GetAtt'].map((tag) => ({
  tag,
  resolve: (value: string) => ({ [tag]: value }),
}));
const template = parse(read('template.yaml'), { customTags: cloudFormationTags }) as {
  Transform: string;
  Parameters: Record<string, unknown>;
  Resources: Record<
    string,
    { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
};

/** The environment variable names a function module reads with `required(...)` or `env.X`. */
function variablesRead(...files: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of files) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const match of text.matchAll(/required\('([A-Z_]+)'/g)) names.add(match[1]!);
    for (const match of text.matchAll(/env\.([A-Z_]+)/g)) names.add(match[1]!);
  }
  return names;
}

const outDir = mkdtempSync(join(tmpdir(), 'sidecarless-order-processing-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const fakeEnv = {
  MESH_POLICY_DIR: join(here, 'mesh-policy.yaml'),
  OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces',
  INVENTORY_URL: 'http://inventory.shop.svc',
  PAYMENTS_URL: 'https://payments-mesh.shop.example.com:8443',
  NOTIFICATIONS_URL: 'http://notifications.shop.svc',
};

/** stack.yml, parsed. */
const stack = parse(read('stack.yml')) as {
  version: number;
  provider: { name: string };
  functions: Record<
    string,
    { lang: string; handler: string; image: string; secrets?: string[]; environment: Record<string, string> }
  >;
};

/** POSTs a charge to `port` over mTLS with `material` as the client certificate; resolves the status. */
function chargeOverMtls(port: number, ca: string, material: { cert: string; key: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      `https://127.0.0.1:${port}/charges`,
      { method: 'POST', ca, cert: material.cert, key: material.key, agent: false },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', reject);
    request.end(JSON.stringify({ orderId: 'ord_deploy_test', card: 'visa' }));
  });
}

describe('examples/order-processing/deploy', () => {
  it('validates every Knative document against the Knative schemas', () => {
    const docs = documents('knative.yaml');
    expect(docs.map((doc) => `${doc.kind}/${doc.metadata.name}`)).toEqual([
      'Service/inventory',
      'Service/notifications',
      'Trigger/order-created',
      'Service/inventory-events',
      'Trigger/stock-adjusted',
    ]);
    for (const doc of docs) {
      const model = doc.kind === 'Trigger' ? new Trigger(doc as never) : new Service(doc as never);
      expect(() => model.validate(), `${doc.kind}/${doc.metadata.name}`).not.toThrow();
    }
    // The schemas do catch mistakes: a container port that is not a number is refused.
    const broken = structuredClone(docs[0]) as unknown as {
      spec: { template: { spec: { containers: { ports: unknown[] }[] } } };
    };
    broken.spec.template.spec.containers[0]!.ports = [{ containerPort: 'eighty' }];
    expect(() => new Service(broken as never).validate()).toThrow();
  });

  it('runs the Knative entry points that exist, with the probe paths the adapter answers', () => {
    for (const doc of documents('knative.yaml').filter((d) => d.kind === 'Service')) {
      const container = (
        doc as unknown as { spec: { template: { spec: { containers: Record<string, never>[] } } } }
      ).spec.template.spec.containers[0]!;
      const command = container.command as unknown as string[];
      expect(existsSync(join(root, command[1]!)), command[1]).toBe(true);
      expect((container.readinessProbe as unknown as { httpGet: { path: string } }).httpGet.path).toBe(
        '/health/readiness',
      );
      expect((container.livenessProbe as unknown as { httpGet: { path: string } }).httpGet.path).toBe(
        '/health/liveness',
      );
    }
  });

  it('believes x-forwarded-client-cert only where the mesh sidecar is injected, and routes stock events to inventory-events', () => {
    type KnativeService = {
      spec: {
        template: {
          metadata: { annotations: Record<string, string> };
          spec: { containers: { env: { name: string; value: string }[] }[] };
        };
      };
    };
    for (const doc of documents('knative.yaml').filter((d) => d.kind === 'Service')) {
      const { template } = (doc as unknown as KnativeService).spec;
      const trusts = template.spec.containers[0]!.env.some((entry) => entry.name === 'TRUSTED_PROXIES');
      const sidecar = template.metadata.annotations['sidecar.istio.io/inject'] === 'true';
      expect(trusts, doc.metadata.name).toBe(sidecar);
    }
    const stockTrigger = documents('knative.yaml').find((doc) => doc.metadata.name === 'stock-adjusted')!
      .spec as { filter: { attributes: { type: string } }; subscriber: { ref: { name: string } } };
    expect(stockTrigger.filter.attributes.type).toBe('com.example.stock.adjusted');
    expect(stockTrigger.subscriber.ref.name).toBe('inventory-events');
  });

  it('validates the mesh policy against the Istio schemas', () => {
    const models: Record<string, (doc: Doc) => { validate(): void }> = {
      RequestAuthentication: (doc) => new RequestAuthentication(doc as never),
      AuthorizationPolicy: (doc) => new AuthorizationPolicy(doc as never),
      PeerAuthentication: (doc) => new PeerAuthentication(doc as never),
      VirtualService: (doc) => new VirtualService(doc as never),
      DestinationRule: (doc) => new DestinationRule(doc as never),
    };
    const docs = documents('mesh-policy.yaml');
    expect(docs).toHaveLength(7);
    for (const doc of docs) {
      const model = models[doc.kind];
      expect(model, doc.kind).toBeDefined();
      expect(() => model!(doc).validate(), `${doc.kind}/${doc.metadata.name}`).not.toThrow();
    }
    const broken = {
      ...docs.find((doc) => doc.kind === 'PeerAuthentication')!,
      spec: { mtls: { mode: 'SOMETIMES' } },
    };
    expect(() => new PeerAuthentication(broken as never).validate()).toThrow();
  });

  it('is the policy each function loads: its scope picks its rules, and orders adds only what the files cannot say', async () => {
    const policy = [{ path: 'mesh-policy.yaml', text: read('mesh-policy.yaml') }];
    const scoped = async (service: string) =>
      (await loadIstio(policy, { namespace: 'shop', labels: { app: service } })).options.auth!;
    const byName = new Map(
      documents('mesh-policy.yaml').map((doc) => [`${doc.kind}/${doc.metadata.name}`, doc.spec as never]),
    );
    const rulesOf = (name: string) =>
      (byName.get(`AuthorizationPolicy/${name}`) as unknown as { rules: unknown[] }).rules;

    // payments: only orders' certificate may charge, under STRICT mTLS.
    const payments = await scoped('payments');
    expect(payments.policies?.map((entry) => entry.name)).toEqual(['only-orders-may-charge']);
    expect(payments.policies?.[0]?.rules).toEqual(rulesOf('only-orders-may-charge'));
    const sourceOf = (loaded: typeof payments) =>
      (loaded.policies![0]!.rules![0]!.from![0] as { source: { principals?: string[] } }).source;
    expect(sourceOf(payments).principals).toEqual([principal(spiffe.orders)]);
    expect(payments.peerAuthentication?.mtls?.mode).toBe('STRICT');
    // inventory: orders and the warehouse may read stock.
    const inventory = await scoped('inventory');
    expect(inventory.policies?.map((entry) => entry.name)).toEqual(['stock-readers']);
    expect(sourceOf(inventory).principals).toEqual([principal(spiffe.orders), principal(spiffe.warehouse)]);
    // orders: the user-token rule and the shoppers' policy.
    const orders = await scoped('orders');
    expect(orders.policies?.map((entry) => entry.name)).toEqual(['shoppers-place-orders']);
    expect(orders.jwt?.map((rule) => rule.audiences)).toEqual([['orders']]);

    // Each function points at the mounted file, and gives no policy of its own but what the
    // files cannot say: orders' addresses, certificates and breaker; PERMISSIVE behind API Gateway.
    for (const options of [ordersOptions(fakeEnv), paymentsOptions(fakeEnv), inventoryOptions(fakeEnv)]) {
      expect(options.istio?.files).toEqual([fakeEnv.MESH_POLICY_DIR]);
      expect(options.auth).toBeUndefined();
      expect(options.upstreams).toBeUndefined();
      expect((options.istio?.auth as { policies?: unknown } | undefined)?.policies).toBeUndefined();
    }
    const own = ordersOptions(fakeEnv).istio!;
    expect(own.auth).toEqual({ peerAuthentication: { mtls: { mode: 'PERMISSIVE' } } });
    const rule = byName.get('DestinationRule/payments') as unknown as {
      trafficPolicy: { outlierDetection: { consecutive5xxErrors: number } };
    };
    expect(
      (own.upstreams!.payments as { circuitBreaker: { consecutiveFailures: number } }).circuitBreaker
        .consecutiveFailures,
    ).toBe(rule.trafficPolicy.outlierDetection.consecutive5xxErrors);
    // The files' retries on payments apply through the VirtualService's route.
    const loaded = await loadIstio(policy, { namespace: 'shop', labels: { app: 'orders' } });
    expect((loaded.options.upstreams!.payments as { http: { retries: unknown }[] }).http[0]!.retries).toEqual(
      { attempts: 2 },
    );
  });

  it('deploys orders with SAM on nodejs22.x, setting every variable the function reads', () => {
    expect(template.Transform).toBe('AWS::Serverless-2016-10-31');
    const fn = template.Resources.OrdersFunction!;
    expect(fn.Type).toBe('AWS::Serverless::Function');
    expect(fn.Properties.Runtime).toBe('nodejs22.x');
    expect(fn.Properties.Handler).toBe('platforms/orders-lambda.handler');
    expect(existsSync(join(root, 'platforms/orders-lambda.mjs'))).toBe(true);
    expect(fn.Metadata?.BuildMethod).toBe('esbuild');
    const set = Object.keys((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables);
    const reads = variablesRead('functions/orders.ts', 'functions/environment.ts');
    reads.delete('METRICS_PORT'); // optional: without it, Lambda gets EMF metrics
    reads.delete('METRICS_HOST'); // only with METRICS_PORT
    reads.delete('TRUSTED_PROXIES'); // inventory's, for a proxy in its pod; orders has none
    expect(set.sort()).toEqual([...reads].sort());
    // Every !Ref names a declared parameter.
    const refs = [...read('template.yaml').matchAll(/!Ref (\w+)/g)].map((match) => match[1]!);
    for (const ref of refs) expect(Object.keys(template.Parameters), ref).toContain(ref);
  });

  it('deploys payments with faas-cli: of-watchdog HTTP mode, its mTLS port and certificate, the variables payments reads', () => {
    expect(stack.provider.name).toBe('openfaas');
    const payments = stack.functions.payments!;
    expect(payments.lang).toBe('dockerfile');
    expect(existsSync(join(here, payments.handler, 'Dockerfile'))).toBe(true);
    expect(payments.environment).toMatchObject({ mode: 'http', upstream_url: 'http://127.0.0.1:3000' });
    const reads = variablesRead(
      'functions/payments.ts',
      'functions/environment.ts',
      'platforms/payments-openfaas.ts',
    );
    reads.delete('TRUSTED_PROXIES'); // inventory's: payments terminates mTLS itself
    for (const name of reads) expect(Object.keys(payments.environment), name).toContain(name);
    // The mesh certificate comes from the OpenFaaS secret, mounted under /var/openfaas/secrets/.
    expect(payments.secrets).toEqual(['payments-mesh', 'mesh-policy']);
    for (const name of ['MESH_CA_FILE', 'MESH_CERT_FILE', 'MESH_KEY_FILE']) {
      expect(payments.environment[name], name).toMatch(/^\/var\/openfaas\/secrets\/[\w.-]+$/);
    }
  });

  it("exposes payments' mTLS port with a Kubernetes Service that validates against its schema", () => {
    const docs = documents('payments-mesh.yaml');
    expect(docs.map((doc) => `${doc.kind}/${doc.metadata.name}`)).toEqual(['Service/payments-mesh']);
    const service = new KubernetesService(docs[0] as never);
    expect(() => service.validate()).not.toThrow();
    // faas-netes labels a function's pods faas_function=<name>; the port is the one payments listens on.
    expect(service.spec?.selector).toEqual({ faas_function: 'payments' });
    expect(service.spec?.ports?.[0]?.targetPort).toBe(
      Number(stack.functions.payments!.environment.MESH_PORT),
    );
    expect(service.spec?.ports?.[0]?.protocol).toBe('TCP');
    const broken = { ...docs[0]!, spec: { ports: [{ port: 'https' }] } };
    expect(() => new KubernetesService(broken as never).validate()).toThrow();
  });

  it('bundles the Lambda entry into CommonJS that loads with require(esm) off', async () => {
    const outfile = join(outDir, 'orders-lambda.js');
    await build({
      entryPoints: [join(root, 'platforms/orders-lambda.mjs')],
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      outfile,
      logLevel: 'silent',
    });
    const script = `const m = require(${JSON.stringify(outfile)}); console.log(typeof m.handler);`;
    const output = execFileSync(process.execPath, ['--no-experimental-require-module', '-e', script], {
      env: { PATH: process.env.PATH, ...fakeEnv },
      encoding: 'utf8',
    });
    // The first line is the handler's type. The mesh starts loading its features at require time
    // (Lambda's init phase), so the JWKS fetch, which has no network here, may log after it.
    expect(output.trim().split('\n')[0]).toBe('function');
  });

  it("bundles payments into the one ESM file its image runs: orders' certificate charges, any other caller gets 403", async () => {
    const outfile = join(outDir, 'payments.mjs');
    await build({
      entryPoints: [join(root, 'platforms/payments-openfaas.ts')],
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'esm',
      // The same banner as the bundle:payments script: bundled CommonJS dependencies call require.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
      outfile,
      logLevel: 'silent',
    });
    const ca = await createCa({ commonName: 'deploy test mesh CA' });
    const material = {
      payments: await ca.issue({ commonName: 'payments', uris: [spiffe.payments], usage: 'server' }),
      orders: await ca.issue({ commonName: 'orders', uris: [spiffe.orders], usage: 'client' }),
      inventory: await ca.issue({ commonName: 'inventory', uris: [spiffe.inventory], usage: 'client' }),
    };
    const file = (name: string, text: string) => {
      const path = join(outDir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    const meshFiles = {
      MESH_CA_FILE: file('ca.crt', ca.cert),
      MESH_CERT_FILE: file('tls.crt', material.payments.cert),
      MESH_KEY_FILE: file('tls.key', material.payments.key),
    };
    const [port, meshPort, metricsPort] = await freePorts(3);
    const env = {
      PATH: process.env.PATH,
      OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces',
      http_port: String(port),
      METRICS_PORT: String(metricsPort),
      exec_timeout: '5s',
      LOG_LEVEL: 'silent',
      MESH_POLICY_DIR: join(here, 'mesh-policy.yaml'),
      ...meshFiles,
    };

    // Mesh certificates without a port to terminate mTLS on: it refuses to start rather than
    // serve the plain path alone.
    const misconfigured = spawn(process.execPath, [outfile], { env, stdio: 'ignore' });
    const exitCode = await new Promise<number | null>((resolve) => misconfigured.once('exit', resolve));
    expect(exitCode).not.toBe(0);

    const child = spawn(process.execPath, [outfile], {
      env: { ...env, MESH_PORT: String(meshPort) },
      stdio: 'ignore',
    });
    try {
      let plain = 0;
      for (let attempt = 0; attempt < 200 && plain === 0; attempt++) {
        plain = await fetch(`http://127.0.0.1:${port}/charges`, { method: 'POST', body: '{}' }).then(
          (response) => response.status,
          async () => {
            await new Promise((resolve) => setTimeout(resolve, 50));
            return 0;
          },
        );
      }
      // The watchdog's path carries no client certificate: STRICT refuses it.
      expect(plain).toBe(403);
      let asOrders = 0;
      for (let attempt = 0; attempt < 100 && asOrders === 0; attempt++) {
        asOrders = await chargeOverMtls(meshPort!, ca.cert, material.orders).catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          return 0;
        });
      }
      expect(asOrders).toBe(201);
      // Another mesh workload with a valid certificate: the principals rule refuses it.
      expect(await chargeOverMtls(meshPort!, ca.cert, material.inventory)).toBe(403);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
