/**
 * The mesh's MeterProvider held to the OpenTelemetry SDK: the same recordings go through
 * `@opentelemetry/sdk-metrics` read by `@opentelemetry/exporter-prometheus` (the yardstick) and
 * through ours, and the two Prometheus texts carry the same families (HELP, UNIT, TYPE) and the
 * same series with the same values — names, `_total`, label sanitising, scope labels, default and
 * advised buckets, INT truncation, dropped negative values, observables, and the cardinality
 * limit's `otel.metric.overflow` series.
 */
import { type Attributes, type MeterProvider, ValueType } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider as SdkMeterProvider } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { ApplicationMetrics } from '../src/app-metrics.ts';
import { renderApplicationPrometheus } from '../src/app-metrics-exposition.ts';

/** One program of recordings, run against either provider. */
type Script = (provider: MeterProvider) => void;

async function sdkText(script: Script, cardinalityLimit?: number): Promise<string> {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new SdkMeterProvider({
    readers: [exporter],
    ...(cardinalityLimit === undefined
      ? {}
      : { views: [{ instrumentName: '*', aggregationCardinalityLimit: cardinalityLimit }] }),
  });
  script(provider);
  const { resourceMetrics } = await exporter.collect();
  await provider.shutdown();
  return new PrometheusSerializer().serialize(resourceMetrics);
}

function meshText(script: Script, cardinalityLimit = 2000): { text: string; warnings: string[] } {
  const warnings: string[] = [];
  const app = new ApplicationMetrics({
    cardinalityLimit,
    perInvocation: false,
    warn: (_fields, message) => warnings.push(message),
  });
  script(app);
  return { text: renderApplicationPrometheus(app, 'orders'), warnings };
}

/** Families (HELP/UNIT/TYPE lines) and series (`name{labels sorted}` → value) of a text. */
function parse(text: string): { meta: string[]; series: Map<string, string> } {
  const meta: string[] = [];
  const series = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# no registered')) continue;
    if (/(target_info|serverless_metric_overflow_total)/.test(line)) continue;
    if (line.startsWith('#')) {
      meta.push(line);
      continue;
    }
    const match = /^([^{ ]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels = (match[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? [];
    const id = `${match[1]}{${[...labels].sort().join(',')}}`;
    expect(series.has(id), `duplicate series ${id}`).toBe(false);
    series.set(id, match[3]!);
  }
  return { meta: meta.sort(), series };
}

async function expectParity(script: Script, cardinalityLimit?: number) {
  const sdk = parse(await sdkText(script, cardinalityLimit));
  const ours = parse(meshText(script, cardinalityLimit).text);
  expect(ours.meta).toEqual(sdk.meta);
  expect(Object.fromEntries(ours.series)).toEqual(Object.fromEntries(sdk.series));
  expect(sdk.series.size).toBeGreaterThan(0);
  return { sdk, ours };
}

describe('the mesh MeterProvider against sdk-metrics + exporter-prometheus', () => {
  it('gives the same counters, up-down counters and gauges', async () => {
    const { ours } = await expectParity((provider) => {
      const meter = provider.getMeter('checkout', '1.2.0');
      const orders = meter.createCounter('orders_placed', { description: 'Orders placed.' });
      orders.add(1, { tier: 'gold' });
      orders.add(2, { tier: 'gold' });
      orders.add(1, { tier: 'silver', region: 'eu' });
      orders.add(4, { region: 'eu', tier: 'silver' });
      orders.add(-3, { tier: 'gold' });
      orders.add(5);
      const total = meter.createCounter('payments_total', { unit: '{payment}' });
      total.add(0.5, { 'card.brand': 'visa', 'x-y': 'a"b\\c\nd' });
      const queue = meter.createUpDownCounter('queue.depth', { unit: '{item}' });
      queue.add(5, { queue: 'a' });
      queue.add(-7, { queue: 'a' });
      const temperature = meter.createGauge('cpu-temperature', { unit: 'Cel', description: 'CPU.' });
      temperature.record(40, { core: 1 });
      temperature.record(42.5, { core: 1 });
      temperature.record(39, { core: 2, hot: false, tags: ['a', 'b'] });
      const whole = meter.createCounter('items', { valueType: ValueType.INT });
      whole.add(2.9);
      whole.add(1.2);
      provider.getMeter('other').createCounter('3rd.party').add(1, { ok: true });
    });
    expect(
      ours.series.get(
        'orders_placed_total{otel_scope_name="checkout",otel_scope_version="1.2.0",tier="gold"}',
      ),
    ).toBe('3');
    expect(ours.series.get('items_total{otel_scope_name="checkout",otel_scope_version="1.2.0"}')).toBe('3');
  });

  it('gives the same histograms, with default and advised boundaries', async () => {
    const { ours } = await expectParity((provider) => {
      const meter = provider.getMeter('checkout');
      const latency = meter.createHistogram('checkout.latency', { unit: 'ms' });
      for (const value of [0, 3, 5, 7.5, 120, 9000, 20000]) latency.record(value, { route: '/pay' });
      latency.record(-1, { route: '/pay' });
      const size = meter.createHistogram('basket_size', {
        advice: { explicitBucketBoundaries: [1, 2, 5, 10] },
      });
      for (const value of [1, 1, 2, 3, 11]) size.record(value);
    });
    expect(ours.series.get('basket_size_bucket{le="5",otel_scope_name="checkout"}')).toBe('4');
    expect(ours.series.get('checkout_latency_count{otel_scope_name="checkout",route="/pay"}')).toBe('7');
  });

  it('gives the same observable instruments and batch callbacks', async () => {
    await expectParity((provider) => {
      const meter = provider.getMeter('runtime');
      meter
        .createObservableGauge('heap.used', { unit: 'By' })
        .addCallback((result) => result.observe(1024, { space: 'old' }));
      meter.createObservableCounter('gc.runs').addCallback((result) => result.observe(7, { kind: 'minor' }));
      const open = meter.createObservableUpDownCounter('connections.open');
      const ready = meter.createObservableGauge('ready');
      meter.addBatchObservableCallback(
        (result) => {
          result.observe(open, 3, { pool: 'db' });
          result.observe(ready, 1);
        },
        [open, ready],
      );
    });
  });

  it('overflows into otel.metric.overflow="true" at the same cardinality limit', async () => {
    const script: Script = (provider) => {
      const meter = provider.getMeter('checkout');
      const orders = meter.createCounter('orders');
      const latency = meter.createHistogram('latency', { advice: { explicitBucketBoundaries: [10] } });
      for (let i = 0; i < 12; i++) {
        const attributes: Attributes = { customer: `c${i}` };
        orders.add(1, attributes);
        latency.record(i, attributes);
      }
      orders.add(1, { customer: 'c0' });
    };
    const { ours } = await expectParity(script, 5);
    expect(ours.series.get('orders_total{otel_metric_overflow="true",otel_scope_name="checkout"}')).toBe('8');
    expect(ours.series.get('orders_total{customer="c0",otel_scope_name="checkout"}')).toBe('2');
    const { text, warnings } = meshText(script, 5);
    // One warning per instrument, not one per recording past the limit.
    expect(warnings.filter((message) => message.includes('cardinality limit'))).toHaveLength(2);
    expect(text).toContain('serverless_metric_overflow_total{function="orders",instrument="orders"} 8');
    expect(text).toContain('serverless_metric_overflow_total{function="orders",instrument="latency"} 8');
  });

  it('shares one instrument when asked for it again by name', async () => {
    const { ours } = await expectParity((provider) => {
      for (let i = 0; i < 3; i++)
        provider.getMeter('checkout').createCounter('orders_placed_total').add(1, { tier: 'gold' });
    });
    expect([...ours.series.values()]).toEqual(['3']);
  });

  it('treats names differing only in case as one instrument, as the specification says', () => {
    // Here the JS SDK differs: it exports a second family, Orders_Placed_Total_total.
    const { text } = meshText((provider) => {
      provider.getMeter('checkout').createCounter('orders_placed_total').add(1);
      provider.getMeter('checkout').createCounter('Orders_Placed_Total').add(1);
    });
    expect(text).toContain('orders_placed_total{otel_scope_name="checkout"} 2');
    expect(text).not.toContain('Orders_Placed_Total');
  });
});
