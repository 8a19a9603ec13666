import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMesh, type Mesh } from '@sidecarless/core';
import { knative, type NodeServer } from '@sidecarless/knative';
import { telemetry } from '@sidecarless/telemetry';
import { captureLogs, freePort, resetColdStart } from '@sidecarless/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The real Prometheus from Debian's `prometheus` package (.ci/run installs it) scrapes the
// metrics port of a live Knative function: a `knative(...)` HTTP server and a
// `knative.cloudevents(...)` server sharing one mesh, called over real HTTP on 127.0.0.1.

let mesh: Mesh;
let servers: NodeServer[] = [];
let prometheus: ChildProcess;
let prometheusOutput = '';
let prometheusUrl: string;
let metricsPort: number;
const work = mkdtempSync(join(tmpdir(), 'sidecarless-prometheus-'));

beforeAll(async () => {
  resetColdStart();
  metricsPort = await freePort();
  const logs = captureLogs();
  mesh = createMesh(
    {
      service: 'orders',
      logging: { destination: logs.destination },
      telemetry: { metrics: { exporter: 'prometheus', port: metricsPort } },
    },
    [telemetry],
  );
  const env = { K_SERVICE: 'orders', K_REVISION: 'orders-00001' };
  const http = knative(
    mesh,
    (request) =>
      new URL(request.url).pathname === '/fail' ? new Response('no', { status: 503 }) : new Response('ok'),
    { port: 0, shutdownSignals: false, env },
  );
  const events = knative.cloudevents(mesh, () => undefined, { port: 0, shutdownSignals: false, env });
  servers = [http, events];
  const { url } = await http.listen();
  const eventsUrl = (await events.listen()).url;
  await mesh.ready();
  for (let i = 0; i < 5; i++) await (await fetch(`${url}/orders`)).text();
  for (let i = 0; i < 2; i++) await (await fetch(`${url}/fail`)).text();
  const delivered = await fetch(eventsUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ specversion: '1.0', id: 'e1', type: 'order.created', source: '/shop' }),
  });
  expect(delivered.status).toBe(202);

  const webPort = await freePort();
  prometheusUrl = `http://127.0.0.1:${webPort}`;
  writeFileSync(
    join(work, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      'scrape_configs:',
      '  - job_name: sidecarless',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${metricsPort}']`,
      '',
    ].join('\n'),
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(work, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(work, 'data')}`,
      `--web.listen-address=127.0.0.1:${webPort}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.stdout?.on('data', (chunk) => (prometheusOutput += chunk));
  prometheus.stderr?.on('data', (chunk) => (prometheusOutput += chunk));
});

afterAll(async () => {
  prometheus?.kill('SIGTERM');
  await Promise.all(servers.map((server) => server.close()));
  await mesh?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Queries Prometheus until the expression has a result (scrapes happen every second). */
async function query(
  expression: string,
): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const response = await fetch(
      `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expression)}`,
    ).catch(() => undefined);
    if (response?.ok) {
      const body = (await response.json()) as {
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.data.result.length > 0) return body.data.result;
    }
    await sleep(250);
  }
  throw new Error(`Prometheus returned nothing for ${expression}; its output:\n${prometheusOutput}`);
}

describe('real Prometheus scraping a live function', () => {
  it('scrapes the metrics port and sees the target up', async () => {
    const [up] = await query(`up{job="sidecarless"} == 1`);
    expect(up!.metric.instance).toBe(`127.0.0.1:${metricsPort}`);
  });

  it('reads the invocation and error counters with function, platform and trigger labels', async () => {
    const invocations = await query('serverless_function_invocations_total');
    const byTrigger = Object.fromEntries(invocations.map((r) => [r.metric.trigger, r]));
    expect(byTrigger.http!.metric).toMatchObject({
      function: 'orders',
      platform: 'knative',
      trigger: 'http',
    });
    expect(byTrigger.http!.value[1]).toBe('7');
    expect(byTrigger.pubsub!.value[1]).toBe('1');
    const [errors] = await query('serverless_function_errors_total{trigger="http"}');
    expect(errors!.value[1]).toBe('2');
    const [cold] = await query('sum(serverless_function_cold_starts_total)');
    expect(cold!.value[1]).toBe('1');
  });

  it('reads the duration histogram', async () => {
    const [count] = await query('serverless_function_duration_seconds_count{trigger="http"}');
    expect(count!.value[1]).toBe('7');
    const [p50] = await query(
      'histogram_quantile(0.5, serverless_function_duration_seconds_bucket{trigger="http"})',
    );
    expect(Number(p50!.value[1])).toBeLessThan(0.1);
  });
});
