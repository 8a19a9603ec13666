/**
 * Warm cost of the application's own metrics: a Lambda-shaped invocation (EMF) whose handler
 * records a counter and a histogram through `@opentelemetry/api`, against the same mesh whose
 * handler records nothing (with and without the MeterProvider registered: unused, it must cost
 * nothing), and a Prometheus-exporting mesh (no per-invocation line). Then one recording alone:
 * our instruments against the OpenTelemetry SDK's. The cold-start side is in
 * app-metrics-cold-start.bench.ts.
 *
 * The API's global provider is one per process, so each mesh's instruments are taken while its
 * provider is the registered one, then the registration is removed for the next mesh.
 */
import { type Counter, type Histogram, metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { createMesh, type MeshOptions } from '@sidecarless/core';
import { prepareHttp } from '@sidecarless/core/adapter';
import { telemetry } from '@sidecarless/telemetry';
import { compare, printComparison, printTable, us } from './lib.ts';

let sunk = 0;
const sink = {
  write: (line: string) => {
    sunk += line.length;
  },
};

interface Instruments {
  readonly orders: Counter;
  readonly latency: Histogram;
}

const instrumentsOf = (provider = metrics.getMeterProvider()): Instruments => {
  const meter = provider.getMeter('checkout');
  return {
    orders: meter.createCounter('orders_placed_total'),
    latency: meter.createHistogram('checkout_duration', { unit: 'ms' }),
  };
};

async function candidate(metricsSection: MeshOptions['telemetry'], record: boolean) {
  const mesh = createMesh(
    {
      service: 'bench',
      logging: { destination: sink },
      telemetry: { ...metricsSection, logging: { accessLog: false } },
    },
    [telemetry],
  );
  await mesh.ready();
  const { orders, latency } = instrumentsOf();
  metrics.disable();
  const run = prepareHttp(mesh, () => {
    if (record) {
      orders.add(1, { tier: 'gold' });
      latency.record(12.5, { tier: 'gold' });
    }
    return new Response('ok');
  });
  return () => run(new Request('http://localhost/orders'), { platform: 'aws-lambda', trigger: 'http' });
}

const emfWithoutProvider = await candidate({ metrics: { exporter: 'emf', application: false } }, false);
const emfUnused = await candidate({ metrics: { exporter: 'emf' } }, false);
const emfRecording = await candidate({ metrics: { exporter: 'emf' } }, true);
const prometheusRecording = await candidate({ metrics: { exporter: 'prometheus', port: 0 } }, true);
const prometheusIdle = await candidate({ metrics: { exporter: 'prometheus', port: 0 } }, false);

const invocations = await compare(
  [
    { name: 'EMF, application: false, handler records nothing', run: emfWithoutProvider },
    { name: 'EMF, MeterProvider registered, handler records nothing', run: emfUnused },
    { name: 'EMF, handler adds 1 counter + records 1 histogram value', run: emfRecording },
    { name: 'Prometheus, handler records nothing', run: prometheusIdle },
    { name: 'Prometheus, handler adds 1 counter + records 1 histogram value', run: prometheusRecording },
  ],
  { rounds: 7, iterations: 3_000, warmup: 2_000 },
);
printComparison('Per-invocation cost with application metrics (warm)', invocations);
const at = (i: number) => invocations[i]!.nsPerOp;
printTable(
  'What the application metrics add per invocation',
  ['case', 'added'],
  [
    ['MeterProvider registered, unused (EMF)', us(at(1) - at(0))],
    ['counter + histogram, into the EMF line', us(at(2) - at(1))],
    ['counter + histogram, Prometheus (no line)', us(at(4) - at(3))],
  ],
);

// One recording alone, ours against the SDK's (cumulative, read by exporter-prometheus).
const ours = await (async () => {
  const mesh = createMesh(
    {
      service: 'bench',
      logging: { level: 'silent' },
      telemetry: { metrics: { exporter: 'prometheus', port: 0 } },
    },
    [telemetry],
  );
  await mesh.ready();
  const found = instrumentsOf();
  metrics.disable();
  return found;
})();
const sdk = instrumentsOf(
  new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] }),
);
const gold = { tier: 'gold' };
const two = { tier: 'gold', region: 'eu' };
const recordings = await compare(
  [
    { name: 'ours: counter.add(1, { tier })', run: () => ours.orders.add(1, gold) },
    { name: 'SDK: counter.add(1, { tier })', run: () => sdk.orders.add(1, gold) },
    { name: 'ours: counter.add(1, { tier, region })', run: () => ours.orders.add(1, two) },
    { name: 'SDK: counter.add(1, { tier, region })', run: () => sdk.orders.add(1, two) },
    { name: 'ours: histogram.record(12.5, { tier })', run: () => ours.latency.record(12.5, gold) },
    { name: 'SDK: histogram.record(12.5, { tier })', run: () => sdk.latency.record(12.5, gold) },
  ],
  { rounds: 7, iterations: 100_000, warmup: 20_000 },
);
printComparison('One recording (warm), ours against sdk-metrics', recordings);
if (sunk < 0) console.log(sunk);
process.exit(0);
