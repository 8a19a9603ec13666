/**
 * The order-processing deployment files: every Knative and Istio document validates against
 * its resource schema (@kubernetes-models), the SAM template and stack.yml have the shape their
 * tools accept (checked field by field: neither publishes a schema package) and point at entry
 * points that exist, the environment they set is what the functions read, the Istio policy says
 * what the functions enforce, and the Lambda entry bundles into one CommonJS file that loads
 * with require(esm) off, as on the nodejs22.x runtime.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DestinationRule } from '@kubernetes-models/istio/networking.istio.io/v1/DestinationRule';
import { VirtualService } from '@kubernetes-models/istio/networking.istio.io/v1/VirtualService';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
import { RequestAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication';
import { Trigger } from '@kubernetes-models/knative/eventing.knative.dev/v1/Trigger';
import { Service } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import { startJwksServer } from '@sidecarless/testing';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { freePorts } from '../demo/processes.ts';
import { spiffe } from '../functions/environment.ts';
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
  ISSUER: 'https://id.shop.example.com',
  JWKS_URI: 'https://id.shop.example.com/.well-known/jwks.json',
  OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:4318/v1/traces',
  INVENTORY_URL: 'http://inventory.shop.svc',
  PAYMENTS_URL: 'http://payments.openfaas-fn.svc:8080',
  NOTIFICATIONS_URL: 'http://notifications.shop.svc',
  SERVICE_TOKEN: 'not-a-real-token',
};

describe('examples/order-processing/deploy', () => {
  it('validates every Knative document against the Knative schemas', () => {
    const docs = documents('knative.yaml');
    expect(docs.map((doc) => `${doc.kind}/${doc.metadata.name}`)).toEqual([
      'Service/inventory',
      'Service/notifications',
      'Trigger/order-created',
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

  it('validates the mesh policy against the Istio schemas', () => {
    const models: Record<string, (doc: Doc) => { validate(): void }> = {
      RequestAuthentication: (doc) => new RequestAuthentication(doc as never),
      AuthorizationPolicy: (doc) => new AuthorizationPolicy(doc as never),
      PeerAuthentication: (doc) => new PeerAuthentication(doc as never),
      VirtualService: (doc) => new VirtualService(doc as never),
      DestinationRule: (doc) => new DestinationRule(doc as never),
    };
    const docs = documents('mesh-policy.yaml');
    expect(docs).toHaveLength(6);
    for (const doc of docs) {
      const model = models[doc.kind];
      expect(model, doc.kind).toBeDefined();
      expect(() => model!(doc).validate(), `${doc.kind}/${doc.metadata.name}`).not.toThrow();
    }
    const broken = { ...docs[3]!, spec: { mtls: { mode: 'SOMETIMES' } } };
    expect(() => new PeerAuthentication(broken as never).validate()).toThrow();
  });

  it('states the policy the functions enforce', () => {
    const byName = new Map(
      documents('mesh-policy.yaml').map((doc) => [`${doc.kind}/${doc.metadata.name}`, doc.spec as never]),
    );
    const orders = ordersOptions(fakeEnv);
    const payments = paymentsOptions(fakeEnv);

    const onlyOrders = byName.get('AuthorizationPolicy/only-orders-may-charge') as unknown as {
      rules: { from: { source: { principals: string[] } }[]; to: { operation: unknown }[] }[];
    };
    expect(onlyOrders.rules[0]!.from[0]!.source.principals).toEqual([spiffe.orders.replace('spiffe://', '')]);
    const paymentsRule = payments.auth?.policies?.[0]?.rules?.[0];
    expect(paymentsRule?.to).toEqual(onlyOrders.rules[0]!.to);
    expect(paymentsRule?.when).toEqual([{ key: 'request.auth.claims[sub]', values: [spiffe.orders] }]);

    const shoppers = byName.get('AuthorizationPolicy/shoppers-place-orders') as unknown as {
      rules: unknown[];
    };
    expect(orders.auth?.policies?.[0]?.rules).toEqual(shoppers.rules);
    const jwtRule = (
      byName.get('RequestAuthentication/orders-user-tokens') as unknown as {
        jwtRules: { audiences: string[] }[];
      }
    ).jwtRules[0]!;
    expect(orders.auth?.jwt?.[0]?.audiences).toEqual(jwtRule.audiences);

    const retries = (
      byName.get('VirtualService/payments') as unknown as {
        http?: { retries: { attempts: number; retryOn: string } }[];
      }
    ).http?.[0]?.retries;
    expect(orders.upstreams?.payments?.retries).toMatchObject({
      attempts: retries?.attempts,
      retryOn: retries?.retryOn,
    });
    const rule = documents('mesh-policy.yaml').find((doc) => doc.kind === 'DestinationRule')!.spec as {
      trafficPolicy: { outlierDetection: { consecutive5xxErrors: number } };
    };
    expect(orders.upstreams?.payments?.circuitBreaker?.consecutiveFailures).toBe(
      rule.trafficPolicy.outlierDetection.consecutive5xxErrors,
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
    expect(set.sort()).toEqual([...reads].sort());
    // Every !Ref names a declared parameter.
    const refs = [...read('template.yaml').matchAll(/!Ref (\w+)/g)].map((match) => match[1]!);
    for (const ref of refs) expect(Object.keys(template.Parameters), ref).toContain(ref);
  });

  it('deploys payments with faas-cli: of-watchdog HTTP mode, the variables payments reads', () => {
    const stack = parse(read('stack.yml')) as {
      version: number;
      provider: { name: string };
      functions: Record<
        string,
        { lang: string; handler: string; image: string; environment: Record<string, string> }
      >;
    };
    expect(stack.provider.name).toBe('openfaas');
    const payments = stack.functions.payments!;
    expect(payments.lang).toBe('dockerfile');
    expect(existsSync(join(here, payments.handler, 'Dockerfile'))).toBe(true);
    expect(payments.environment).toMatchObject({ mode: 'http', upstream_url: 'http://127.0.0.1:3000' });
    const reads = variablesRead('functions/payments.ts', 'functions/environment.ts');
    // payments serves plain HTTP behind the watchdog: no mesh certificates.
    for (const name of ['MESH_CERT_FILE', 'MESH_CA_FILE', 'MESH_KEY_FILE']) reads.delete(name);
    for (const name of reads) expect(Object.keys(payments.environment), name).toContain(name);
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
    expect(output.trim()).toBe('function');
  });

  it('bundles payments into the one ESM file its image runs, and it serves fail-closed', async () => {
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
    const jwks = await startJwksServer();
    const [port, metricsPort] = await freePorts(2);
    const child = spawn(process.execPath, [outfile], {
      env: {
        PATH: process.env.PATH,
        ISSUER: 'https://id.shop.example.com',
        JWKS_URI: jwks.url,
        OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9/v1/traces',
        http_port: String(port),
        METRICS_PORT: String(metricsPort),
        exec_timeout: '5s',
        LOG_LEVEL: 'silent',
      },
      stdio: 'ignore',
    });
    try {
      let status = 0;
      for (let attempt = 0; attempt < 200 && status === 0; attempt++) {
        status = await fetch(`http://127.0.0.1:${port}/charges`, { method: 'POST', body: '{}' }).then(
          (response) => response.status,
          async () => {
            await new Promise((resolve) => setTimeout(resolve, 50));
            return 0;
          },
        );
      }
      // No service token: the only-orders policy refuses the charge.
      expect(status).toBe(403);
    } finally {
      child.kill('SIGKILL');
      await jwks.close();
    }
  });
});
