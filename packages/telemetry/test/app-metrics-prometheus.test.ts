/**
 * The application's own instruments on the Prometheus endpoint: a handler run through the local
 * adapter records with `metrics` from `@opentelemetry/api`, the real Prometheus from Debian's
 * `prometheus` package (.ci/run installs it) scrapes the mesh's metrics port, and the series are
 * read back through its HTTP API beside the mesh's own. Also: the cardinality limit through the
 * mesh, and when no provider is registered (metrics off, `application: false`, the application's
 * own provider first).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { createMesh, type Mesh, type MeshOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { captureLogs, freePort } from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationMetrics } from '../src/app-metrics.ts';
import { telemetry } from '../src/index.ts';

type Result = Array<{ metric: Record<string, string>; value: [number, string] }>;

describe('a real Prometheus scraping the application metrics', () => {
  let mesh: Mesh;
  let prometheus: ChildProcess;
  let prometheusOutput = '';
  let prometheusUrl: string;
  let metricsPort: number;
  const work = mkdtempSync(join(tmpdir(), 'sidecarless-app-metrics-'));

  beforeAll(async () => {
    metricsPort = await freePort();
    mesh = createMesh(
      {
        service: 'checkout',
        logging: { level: 'silent' },
        telemetry: { metrics: { exporter: 'prometheus', port: metricsPort }, logging: { accessLog: false } },
      },
      [telemetry],
    );
    await mesh.ready();
    // Made after ready(), as an application does at module scope after createMesh (see the docs).
    const meter = metrics.getMeter('checkout', '1.0.0');
    const orders = meter.createCounter('orders_placed', { description: 'Orders placed.' });
    const latency = meter.createHistogram('checkout.duration', {
      unit: 's',
      advice: { explicitBucketBoundaries: [0.1, 0.5, 1] },
    });
    const inFlight = meter.createUpDownCounter('checkout.in_flight');
    meter.createObservableGauge('stock.level').addCallback((result) => result.observe(42, { sku: 'A1' }));
    const handler = async (request: Request) => {
      inFlight.add(1);
      const tier = new URL(request.url).searchParams.get('tier') ?? 'gold';
      orders.add(1, { tier });
      latency.record(tier === 'gold' ? 0.2 : 0.7, { tier });
      inFlight.add(-1);
      return new Response('placed');
    };
    for (const tier of ['gold', 'gold', 'gold', 'silver'])
      await invoke(mesh, handler, `http://localhost/checkout?tier=${tier}`);

    const webPort = await freePort();
    prometheusUrl = `http://127.0.0.1:${webPort}`;
    writeFileSync(
      join(work, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: checkout',
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
    prometheus.on('error', (error) => (prometheusOutput += `${error.message} (install Debian's prometheus)`));
    prometheus.stdout?.on('data', (chunk) => (prometheusOutput += chunk));
    prometheus.stderr?.on('data', (chunk) => (prometheusOutput += chunk));
  });

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await mesh?.close();
    rmSync(work, { recursive: true, force: true });
  });

  async function query(expression: string): Promise<Result> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const response = await fetch(
        `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expression)}`,
      ).catch(() => undefined);
      if (response?.ok) {
        const body = (await response.json()) as { data: { result: Result } };
        if (body.data.result.length > 0) return body.data.result;
      }
      await sleep(250);
    }
    throw new Error(`Prometheus returned nothing for ${expression}; its output:\n${prometheusOutput}`);
  }

  it('reads the application counter by its attributes, with the scope labels', async () => {
    const series = await query('orders_placed_total');
    const byTier = Object.fromEntries(series.map((entry) => [entry.metric.tier, entry]));
    expect(byTier.gold!.value[1]).toBe('3');
    expect(byTier.silver!.value[1]).toBe('1');
    expect(byTier.gold!.metric).toMatchObject({
      __name__: 'orders_placed_total',
      job: 'checkout',
      otel_scope_name: 'checkout',
      otel_scope_version: '1.0.0',
    });
  });

  it('reads the histogram with its advised buckets, and the gauges', async () => {
    const [count] = await query('checkout_duration_count{tier="gold"}');
    expect(count!.value[1]).toBe('3');
    const [below] = await query('checkout_duration_bucket{tier="silver",le="0.5"}');
    expect(below!.value[1]).toBe('0');
    const [p50] = await query('histogram_quantile(0.5, checkout_duration_bucket{tier="gold"})');
    expect(Number(p50!.value[1])).toBeGreaterThan(0.1);
    expect(Number(p50!.value[1])).toBeLessThanOrEqual(0.5);
    const [inFlight] = await query('checkout_in_flight');
    expect(inFlight!.value[1]).toBe('0');
    const [stock] = await query('stock_level{sku="A1"}');
    expect(stock!.value[1]).toBe('42');
  });

  it('scrapes the mesh metrics from the same endpoint', async () => {
    const [invocations] = await query('serverless_function_invocations_total{function="checkout"}');
    expect(invocations!.value[1]).toBe('4');
  });
});

describe('the provider the mesh registers', () => {
  let mesh: Mesh | undefined;
  afterEach(async () => {
    await mesh?.close();
    mesh = undefined;
    metrics.disable();
  });

  const start = async (section: MeshOptions['telemetry'], logs = captureLogs()) => {
    mesh = createMesh(
      { service: 'checkout', logging: { destination: logs.destination }, telemetry: section },
      [telemetry],
    );
    await mesh.ready();
    return logs;
  };

  it('caps attribute sets per instrument, counts the overflow and warns once', async () => {
    const port = await freePort();
    const logs = await start({ metrics: { exporter: 'prometheus', port, cardinalityLimit: 3 } });
    const orders = metrics.getMeter('checkout').createCounter('orders');
    for (let i = 0; i < 10; i++) orders.add(1, { customer: `c${i}` });
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain('orders_total{customer="c0",otel_scope_name="checkout"} 1');
    expect(text).toContain('orders_total{customer="c1",otel_scope_name="checkout"} 1');
    expect(text).not.toContain('customer="c2"');
    expect(text).toContain('orders_total{otel_metric_overflow="true",otel_scope_name="checkout"} 8');
    expect(text).toContain('serverless_metric_overflow_total{function="checkout",instrument="orders"} 8');
    const warnings = logs.lines().filter((line) => String(line.msg).includes('cardinality limit'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', instrument: 'orders', cardinalityLimit: 3 });
  });

  it('serves text promtool accepts whatever the application names, never repeating a family or a label', async () => {
    const port = await freePort();
    const logs = await start({ metrics: { exporter: 'prometheus', port } });
    await invoke(mesh!, () => new Response('ok'), 'http://localhost/');
    const meter = metrics.getMeter('checkout');
    // The name of one of the mesh's own metrics: left out, with one warning.
    meter.createCounter('serverless_function_invocations_total').add(5);
    // Two keys that sanitise to one label name: the first is kept.
    meter.createCounter('orders').add(1, { 'card.brand': 'visa', card_brand: 'amex' });
    // The same Prometheus name from two meters: one family.
    metrics.getMeter('other').createCounter('orders').add(2);
    meter.createHistogram('http.server.duration', { unit: 's' }).record(0.2, { 'http.route': '/a"b' });
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(promtool.error, "promtool from Debian's prometheus package").toBeUndefined();
    expect(promtool.stdout + promtool.stderr).toBe('');
    expect(promtool.status).toBe(0);
    expect(text.match(/^# TYPE serverless_function_invocations_total /gm)).toHaveLength(1);
    expect(text).toContain(
      'serverless_function_invocations_total{function="checkout",platform="local",trigger="http"} 1',
    );
    expect(text).toContain('orders_total{card_brand="visa",otel_scope_name="checkout"} 1');
    expect(text).toContain('orders_total{otel_scope_name="other"} 2');
    expect(text.match(/^# TYPE orders_total /gm)).toHaveLength(1);
    expect(logs.lines().filter((line) => String(line.msg).includes("mesh's own metrics"))).toHaveLength(1);
  });

  it('registers nothing without telemetry, with metrics off, or with application metrics turned off', async () => {
    await start(undefined);
    expect(metrics.getMeterProvider()).not.toBeInstanceOf(ApplicationMetrics);
    await mesh!.close();
    await start({ logging: { accessLog: false } });
    expect(metrics.getMeterProvider()).not.toBeInstanceOf(ApplicationMetrics);
    await mesh!.close();
    await start({ metrics: { exporter: 'emf', application: false } });
    expect(metrics.getMeterProvider()).not.toBeInstanceOf(ApplicationMetrics);
    await mesh!.close();
    await start({ metrics: { exporter: 'emf' } });
    expect(metrics.getMeterProvider()).toBeInstanceOf(ApplicationMetrics);
  });

  it('removes its registration on close', async () => {
    await start({ metrics: { exporter: 'emf' } });
    expect(metrics.getMeterProvider()).toBeInstanceOf(ApplicationMetrics);
    await mesh!.close();
    mesh = undefined;
    expect(metrics.getMeterProvider()).not.toBeInstanceOf(ApplicationMetrics);
  });

  it("leaves the application's own MeterProvider in place and says so", async () => {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const own = new MeterProvider({ readers: [exporter] });
    expect(metrics.setGlobalMeterProvider(own)).toBe(true);
    const port = await freePort();
    const logs = await start({ metrics: { exporter: 'prometheus', port } });
    expect(metrics.getMeterProvider()).toBe(own);
    expect(
      logs.lines().some((line) => String(line.msg).includes('MeterProvider is already registered')),
    ).toBe(true);
    metrics.getMeter('checkout').createCounter('orders').add(1);
    const meshText = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(meshText).toContain('serverless_function_invocations_total');
    expect(meshText).not.toContain('orders_total');
    const { resourceMetrics } = await exporter.collect();
    expect(new PrometheusSerializer().serialize(resourceMetrics)).toContain(
      'orders_total{otel_scope_name="checkout"} 1',
    );
    await own.shutdown();
  });

  it('rejects a cardinality limit that is not a positive whole number, naming the field', () => {
    expect(() =>
      createMesh({ service: 'checkout', telemetry: { metrics: { exporter: 'emf', cardinalityLimit: 0 } } }, [
        telemetry,
      ]),
    ).toThrow(/telemetry\.metrics\.cardinalityLimit: 0 is not a whole number from 1/);
    expect(() =>
      createMesh({ service: 'checkout', telemetry: { metrics: { cardinalityLimit: 10 } } }, [telemetry]),
    ).toThrow(/telemetry\.metrics\.exporter: .*add exporter/);
  });
});
