/**
 * Live reload of Istio YAML from a mounted ConfigMap, end to end: a real HTTP server on 127.0.0.1
 * (the shared Node server the Knative and OpenFaaS adapters run on) serving through the mesh, two
 * real upstream servers, a real Prometheus endpoint, and a ConfigMap volume updated on the real
 * file system exactly as the kubelet does it (`configMapVolume` from @sidecarless/testing).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { auth } from '@sidecarless/auth';
import { createMesh, type Mesh } from '@sidecarless/core';
import { createNodeServer, serveHttp } from '@sidecarless/core/node-server';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { telemetry } from '@sidecarless/telemetry';
import {
  type CapturedLogs,
  type ConfigMapVolume,
  captureLogs,
  configMapVolume,
  createUpstreamServer,
  freePort,
  type UpstreamServer,
} from '@sidecarless/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { istio } from '../src/index.ts';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A backend that answers with its own name. */
async function backend(name: string): Promise<UpstreamServer> {
  const server = await createUpstreamServer({ name });
  server.fallback = { body: name };
  return server;
}

const serviceEntry = (port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: backend, namespace: shop }
spec:
  hosts: [backend.example.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: ${port}, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1 }]
`;

const allowApiAndAdmin = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: orders-access, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules:
  - to: [{ operation: { paths: ["/api/*", "/admin/*"] } }]
`;

const denyAdmin = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: no-admin, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: DENY
  rules:
  - to: [{ operation: { paths: ["/admin/*"] } }]
`;

interface RunningFunction {
  readonly url: string;
  readonly mesh: Mesh;
  readonly logs: CapturedLogs;
  readonly volume: ConfigMapVolume;
  /** Releases the requests to `/api/slow`, which wait for it before calling the backend. */
  release(): void;
  metrics(): Promise<string>;
  get(path: string): Promise<{ status: number; body: string }>;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The function: `GET /api/*` answers with what `backend.example.test` answers. */
async function startFunction(data: Record<string, string>): Promise<RunningFunction> {
  const volume = configMapVolume(data);
  cleanups.push(() => volume.remove());
  const logs = captureLogs();
  const metricsPort = await freePort();
  const mesh = createMesh(
    {
      service: 'orders',
      logging: { destination: logs.destination },
      telemetry: { metrics: { exporter: 'prometheus', port: metricsPort } },
      istio: { files: [volume.dir], namespace: 'shop' },
    },
    [auth, outbound, http, traffic, telemetry, istio],
  );
  let open!: () => void;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const serve = serveHttp(
    mesh,
    async (request, ctx) => {
      if (new URL(request.url).pathname === '/api/slow') await gate;
      const answer = await ctx.upstream('backend.example.test').fetch('/');
      return new Response(await answer.text());
    },
    () => ({ platform: 'test' }),
  );
  const server = createNodeServer(mesh, serve, { port: 0, probes: false, shutdownSignals: false });
  const { url } = await server.listen();
  cleanups.push(() => server.close());
  cleanups.push(() => mesh.close());
  return {
    url,
    mesh,
    logs,
    volume,
    release: () => {
      open();
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    metrics: async () => (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(),
    get: async (path) => {
      const response = await fetch(`${url.replace(/\/$/, '')}${path}`);
      return { status: response.status, body: await response.text() };
    },
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const reloadCount = (text: string, outcome: string) =>
  Number(
    new RegExp(`serverless_config_reloads_total\\{function="orders",outcome="${outcome}"\\} (\\d+)`).exec(
      text,
    )?.[1] ?? 0,
  );
const invocationCount = (text: string) =>
  Number(/serverless_function_invocations_total\{[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);

describe('live reload from a mounted ConfigMap', () => {
  it('moves a stream of requests to the new configuration at the ..data swap, and none fails', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    cleanups.push(blue.close, green.close);
    const fn = await startFunction({
      'backend.yaml': serviceEntry(blue.port),
      'policy.yaml': allowApiAndAdmin,
    });
    expect(await fn.get('/api/stock')).toEqual({ status: 200, body: 'blue' });
    const before = await fn.metrics();

    // Four callers, each one request at a time, until each has seen the new backend for a while.
    const seen: string[][] = [[], [], [], []];
    let swapped = false;
    const callers = seen.map(async (answers) => {
      let greenSince = 0;
      while (greenSince < 20) {
        const { status, body } = await fn.get('/api/stock');
        answers.push(status === 200 ? body : `status ${status}`);
        if (body === 'green') greenSince++;
        if (!swapped && answers.length > 2_000) throw new Error('no swap');
      }
    });
    await until(() => seen.every((answers) => answers.length >= 10), 'traffic before the swap');
    fn.volume.update({ 'backend.yaml': serviceEntry(green.port), 'policy.yaml': allowApiAndAdmin });
    swapped = true;
    await Promise.all(callers);

    for (const answers of seen) {
      expect(answers.every((answer) => answer === 'blue' || answer === 'green')).toBe(true);
      // Blue until the swap, green from then on: never back.
      const firstGreen = answers.indexOf('green');
      expect(answers.slice(0, firstGreen).every((answer) => answer === 'blue')).toBe(true);
      expect(answers.slice(firstGreen).every((answer) => answer === 'green')).toBe(true);
    }
    expect(fn.logs.withMessage('Istio configuration reloaded')).toHaveLength(1);
    expect(fn.logs.withMessage('Istio configuration reloaded')[0]).toMatchObject({
      level: 'info',
      outcome: 'applied',
      generation: 2,
      restarted: ['outbound'],
    });
    const after = await fn.metrics();
    expect(reloadCount(after, 'applied')).toBe(1);
    // The same telemetry: its counters went on from where they were, on the same port.
    expect(invocationCount(after)).toBeGreaterThan(invocationCount(before) + 80);
  });

  it('keeps the running configuration on an invalid update, with one error line and the metric', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    cleanups.push(blue.close, green.close);
    const fn = await startFunction({
      'backend.yaml': serviceEntry(blue.port),
      'policy.yaml': allowApiAndAdmin,
    });
    await fn.mesh.ready();
    const refusals = () =>
      fn.logs.lines().filter((line) => line.event === 'config_reload' && line.level === 'error');

    // Bad YAML, with the new backend beside it: nothing of it applies.
    fn.volume.update({ 'backend.yaml': serviceEntry(green.port), 'policy.yaml': 'spec: [unclosed' });
    await until(() => refusals().length === 1, 'the refusal');
    expect(refusals()[0]).toMatchObject({
      msg: 'Istio configuration reload refused; the running configuration stays',
      outcome: 'rejected',
      generation: 1,
    });
    expect(refusals()[0]!.reason).toMatch(/policy\.yaml:1:\d+: invalid YAML/);
    expect(await fn.get('/api/stock')).toEqual({ status: 200, body: 'blue' });

    // A schema failure names the file, the resource and the field.
    fn.volume.update({
      'backend.yaml': serviceEntry(green.port),
      'policy.yaml': allowApiAndAdmin.replace('action: ALLOW', 'action: PERMIT'),
    });
    await until(() => refusals().length === 2, 'the second refusal');
    expect(refusals()[1]!.reason).toMatch(
      /policy\.yaml: AuthorizationPolicy orders-access: fails Istio's schema: spec\.action/,
    );

    // A policy the mesh itself refuses (a condition only Envoy's MySQL filter can evaluate),
    // with the resource it came from.
    fn.volume.update({
      'backend.yaml': serviceEntry(green.port),
      'policy.yaml': `${allowApiAndAdmin}    when: [{ key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"] }]\n`,
    });
    await until(() => refusals().length === 3, 'the third refusal');
    expect(refusals()[2]).toMatchObject({
      reason: 'the mesh refuses the loaded options',
      issues: [expect.objectContaining({ resource: 'AuthorizationPolicy orders-access' })],
    });
    expect(await fn.get('/api/stock')).toEqual({ status: 200, body: 'blue' });
    expect(reloadCount(await fn.metrics(), 'rejected')).toBe(3);
    expect(reloadCount(await fn.metrics(), 'applied')).toBe(0);

    // Fixed: it applies.
    fn.volume.update({ 'backend.yaml': serviceEntry(green.port), 'policy.yaml': allowApiAndAdmin });
    await until(() => fn.logs.withMessage('Istio configuration reloaded').length === 1, 'the fix');
    expect(await fn.get('/api/stock')).toEqual({ status: 200, body: 'green' });
    expect(refusals()).toHaveLength(3);
  });

  it('applies an AuthorizationPolicy that tightens access', async () => {
    const blue = await backend('blue');
    cleanups.push(blue.close);
    const fn = await startFunction({
      'backend.yaml': serviceEntry(blue.port),
      'policy.yaml': allowApiAndAdmin,
    });
    expect(await fn.get('/admin/users')).toEqual({ status: 200, body: 'blue' });
    fn.volume.update({
      'backend.yaml': serviceEntry(blue.port),
      'policy.yaml': allowApiAndAdmin,
      'no-admin.yaml': denyAdmin,
    });
    await until(() => fn.logs.withMessage('Istio configuration reloaded').length === 1, 'the reload');
    expect(fn.logs.withMessage('Istio configuration reloaded')[0]).toMatchObject({ restarted: ['auth'] });
    expect((await fn.get('/admin/users')).status).toBe(403);
    expect(await fn.get('/api/stock')).toEqual({ status: 200, body: 'blue' });
    // And outside the policy's paths, nothing ever was allowed.
    expect((await fn.get('/other')).status).toBe(403);
  });

  it('lets a request in flight finish on the configuration it started with', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    cleanups.push(blue.close, green.close);
    const fn = await startFunction({
      'backend.yaml': serviceEntry(blue.port),
      'policy.yaml': allowApiAndAdmin,
    });
    await fn.mesh.ready();
    const slow = fn.get('/api/slow');
    await new Promise((resolve) => setTimeout(resolve, 50));
    fn.volume.update({ 'backend.yaml': serviceEntry(green.port), 'policy.yaml': allowApiAndAdmin });
    await until(() => fn.logs.withMessage('Istio configuration reloaded').length === 1, 'the reload');
    expect(await fn.get('/api/stock')).toEqual({ status: 200, body: 'green' });
    fn.release();
    // It started on the old generation: the old upstream, whose pool stayed open for it.
    expect(await slow).toEqual({ status: 200, body: 'blue' });
  });

  it('follows an editor saving by rename in a plain directory', async () => {
    const { mkdtempSync, writeFileSync, renameSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const [blue, green] = [await backend('blue'), await backend('green')];
    cleanups.push(blue.close, green.close);
    const dir = mkdtempSync(join(tmpdir(), 'sidecarless-mesh-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'backend.yaml'), serviceEntry(blue.port));
    const logs = captureLogs();
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        istio: { files: [join(dir, 'backend.yaml')] },
      },
      [auth, outbound, http, istio],
    );
    cleanups.push(() => mesh.close());
    // One client, kept as init-time code keeps it: it reaches whichever configuration is in effect.
    const backendClient = mesh.upstream('backend.example.test');
    const call = async () => (await backendClient.fetch('/')).text();
    expect(await call()).toBe('blue');
    writeFileSync(join(dir, '.backend.yaml.swp'), serviceEntry(green.port));
    renameSync(join(dir, '.backend.yaml.swp'), join(dir, 'backend.yaml'));
    await until(() => logs.withMessage('Istio configuration reloaded').length === 1, 'the reload');
    expect(await call()).toBe('green');
  });

  it('writes one EMF line per reload, with the outcome as a dimension', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    cleanups.push(blue.close, green.close);
    const volume = configMapVolume({ 'backend.yaml': serviceEntry(blue.port) });
    cleanups.push(() => volume.remove());
    const logs = captureLogs();
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        telemetry: { metrics: { exporter: 'emf' } },
        istio: { files: [volume.dir], namespace: 'shop' },
      },
      [auth, outbound, http, telemetry, istio],
    );
    cleanups.push(() => mesh.close());
    await mesh.ready();
    const emf = () => logs.lines().filter((line) => line.serverless_config_reloads_total !== undefined);
    volume.update({ 'backend.yaml': 'kind: [' });
    await until(() => emf().length === 1, 'the rejected reload line');
    volume.update({ 'backend.yaml': serviceEntry(green.port) });
    await until(() => emf().length === 2, 'the applied reload line');
    expect(emf().map((line) => [line.function, line.outcome, line.serverless_config_reloads_total])).toEqual([
      ['orders', 'rejected', 1],
      ['orders', 'applied', 1],
    ]);
    expect(emf()[0]!._aws).toMatchObject({
      CloudWatchMetrics: [
        {
          Dimensions: [['function', 'outcome']],
          Metrics: [{ Name: 'serverless_config_reloads_total', Unit: 'Count' }],
        },
      ],
    });
    expect(await (await mesh.upstream('backend.example.test').fetch('/')).text()).toBe('green');
  });

  it('stops watching at mesh.close()', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    cleanups.push(blue.close, green.close);
    const fn = await startFunction({ 'backend.yaml': serviceEntry(blue.port) });
    await fn.mesh.ready();
    await fn.mesh.close();
    fn.volume.update({ 'backend.yaml': serviceEntry(green.port) });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(fn.logs.lines().filter((line) => line.event === 'config_reload')).toEqual([]);
  });

  it('does not keep the process alive while it watches', async () => {
    const volume = configMapVolume({ 'policy.yaml': allowApiAndAdmin });
    cleanups.push(() => volume.remove());
    const script = `
      import { auth } from '@sidecarless/auth';
      import { createMesh } from '@sidecarless/core';
      import { istio } from '@sidecarless/istio';
      import { outbound } from '@sidecarless/outbound';
      import { http } from '@sidecarless/outbound/http';
      const mesh = createMesh({ service: 'orders', logging: { level: 'silent' }, istio: { files: [${JSON.stringify(volume.dir)}], namespace: 'shop' } }, [auth, outbound, http, istio]);
      await mesh.ready();
      console.log('ready');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill();
        resolve(null);
      }, 10_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect(output.trim()).toBe('ready');
    expect(code).toBe(0);
  });
});

describe('the first load', () => {
  it('fails closed: invocations fail while the configuration at start is invalid', async () => {
    const fn = await startFunction({ 'policy.yaml': 'kind: [' });
    await expect(fn.mesh.ready()).rejects.toThrow(/policy\.yaml:1:\d+: invalid YAML/);
    expect((await fn.get('/api/stock')).status).toBe(500);
    expect(
      fn.logs.withMessage('Istio configuration refused at start; invocations fail until it is fixed'),
    ).toHaveLength(1);
  });

  it('refuses sections given in code that the files would replace', () => {
    expect(() =>
      createMesh(
        {
          service: 'orders',
          logging: { level: 'silent' },
          auth: { policies: [] },
          istio: { files: ['/etc/mesh'] },
        },
        [auth, outbound, http, istio],
      ),
    ).toThrow(/auth: is loaded from istio\.files/);
  });

  it('names the features the loaded sections need', () => {
    expect(() => createMesh({ service: 'orders', istio: { files: ['/etc/mesh'] } }, [auth, istio])).toThrow(
      /istio: needs the outbound feature/,
    );
  });
});
