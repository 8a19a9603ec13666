/**
 * The application's own OpenTelemetry instruments on Lambda: a handler run through `lambda()` as
 * the runtime calls it records a counter and a histogram with `metrics` from
 * `@opentelemetry/api`, and each invocation writes ONE EMF line carrying the mesh's metrics and
 * the application's, the attribute keys recorded as the dimension set, the counter's value what
 * that invocation added.
 */
import { metrics } from '@opentelemetry/api';
import { createMesh, type Mesh } from '@sidecarless/core';
import { telemetry } from '@sidecarless/telemetry';
import { captureLogs, lambdaContext, lambdaEvent } from '@sidecarless/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { lambda } from '../src/index.js';

type EmfLine = Record<string, unknown> & {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
};

let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
});

function checkoutMesh(logs: ReturnType<typeof captureLogs>, extra: Record<string, unknown> = {}) {
  mesh = createMesh(
    {
      service: 'checkout',
      logging: { destination: logs.destination },
      telemetry: { metrics: { exporter: 'emf', namespace: 'Shop', ...extra }, logging: { accessLog: false } },
    },
    [telemetry],
  );
  return mesh;
}

const emfLines = (logs: ReturnType<typeof captureLogs>) =>
  logs.lines().filter((line) => '_aws' in line) as EmfLine[];

describe('application metrics in the invocation EMF line', () => {
  it('writes one line per invocation with the mesh and application metrics', async () => {
    const logs = captureLogs();
    const handler = lambda(checkoutMesh(logs), async (request) => {
      const meter = metrics.getMeter('checkout');
      const tier = new URL(request.url).searchParams.get('tier') ?? 'gold';
      meter.createCounter('orders_placed_total', { description: 'Orders placed.' }).add(1, { tier });
      meter.createHistogram('basket_value', { unit: 'ms' }).record(12.5, { tier, currency: 'EUR' });
      meter.createHistogram('basket_value', { unit: 'ms' }).record(30, { tier, currency: 'EUR' });
      return new Response('placed');
    });
    await mesh!.ready();
    for (const requestId of ['inv-1', 'inv-2']) {
      const result = (await handler(lambdaEvent('apigw-http-v2.json'), lambdaContext({ requestId }))) as {
        statusCode: number;
      };
      expect(result.statusCode).toBe(200);
    }
    const lines = emfLines(logs);
    expect(lines.map((line) => line.invocation_id)).toEqual(['inv-1', 'inv-2']);
    for (const line of lines) {
      const [own, ...application] = line._aws.CloudWatchMetrics;
      expect(own).toMatchObject({ Namespace: 'Shop', Dimensions: [['function', 'platform', 'trigger']] });
      expect(application).toEqual([
        {
          Namespace: 'Shop',
          Dimensions: [['tier']],
          Metrics: [{ Name: 'orders_placed_total', Unit: 'Count' }],
        },
        {
          Namespace: 'Shop',
          Dimensions: [['currency', 'tier']],
          Metrics: [{ Name: 'basket_value', Unit: 'Milliseconds' }],
        },
      ]);
      // Each invocation reports what it added, so CloudWatch's sum is the total.
      expect(line).toMatchObject({
        function: 'checkout',
        platform: 'aws-lambda',
        serverless_function_invocations_total: 1,
        tier: 'gold',
        currency: 'EUR',
        orders_placed_total: 1,
        basket_value: [12.5, 30],
      });
      // Every dimension and metric a directive names is a property of the line (the EMF schema).
      for (const directive of line._aws.CloudWatchMetrics) {
        for (const set of directive.Dimensions)
          for (const key of set) expect(typeof line[key]).toBe('string');
        for (const metric of directive.Metrics) expect(line[metric.Name]).toBeDefined();
      }
    }
  });

  it('puts a second value of the same attribute into one extra line, as EMF requires', async () => {
    const logs = captureLogs();
    const handler = lambda(checkoutMesh(logs), async () => {
      const orders = metrics.getMeter('checkout').createCounter('orders_placed_total');
      orders.add(1, { tier: 'gold' });
      orders.add(2, { tier: 'silver' });
      orders.add(1, { tier: 'gold' });
      // An attribute named like a mesh dimension, with another value: not in the mesh's line.
      metrics.getMeter('checkout').createCounter('exports_total').add(1, { platform: 'partner' });
      return new Response('ok');
    });
    await handler(lambdaEvent('apigw-http-v2.json'), lambdaContext({ requestId: 'inv-mixed' }));
    const lines = emfLines(logs);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ tier: 'gold', orders_placed_total: 2, platform: 'aws-lambda' });
    expect(lines[1]).toMatchObject({
      tier: 'silver',
      orders_placed_total: 2,
      platform: 'partner',
      exports_total: 1,
      invocation_id: 'inv-mixed',
    });
    expect(lines[1]!._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: 'Shop',
        Dimensions: [['tier']],
        Metrics: [{ Name: 'orders_placed_total', Unit: 'Count' }],
      },
      { Namespace: 'Shop', Dimensions: [['platform']], Metrics: [{ Name: 'exports_total', Unit: 'Count' }] },
    ]);
  });

  it('reports gauges and observable gauges by their value, and nothing for an idle invocation', async () => {
    const logs = captureLogs();
    let heap = 100;
    const handler = lambda(checkoutMesh(logs), async (request) => {
      if (new URL(request.url).pathname.endsWith('/idle')) return new Response('idle');
      metrics.getMeter('checkout').createGauge('stock_level').record(7, { sku: 'A1' });
      return new Response('ok');
    });
    await mesh!.ready();
    const event = lambdaEvent<{ rawPath: string }>('apigw-http-v2.json');
    await handler(event, lambdaContext({ requestId: 'inv-gauge' }));
    expect(emfLines(logs)[0]).toMatchObject({ sku: 'A1', stock_level: 7 });
    const idle = { ...event, rawPath: '/idle' };
    await handler(idle, lambdaContext({ requestId: 'inv-idle' }));
    expect(emfLines(logs)[1]!._aws.CloudWatchMetrics).toHaveLength(1);
    expect(emfLines(logs)[1]).not.toHaveProperty('stock_level');

    metrics
      .getMeter('runtime')
      .createObservableGauge('heap_used', { unit: 'By' })
      .addCallback((result) => result.observe(heap++));
    await handler(idle, lambdaContext({ requestId: 'inv-observed' }));
    const observed = emfLines(logs)[2]!;
    expect(observed.heap_used).toBe(100);
    expect(observed._aws.CloudWatchMetrics[1]).toEqual({
      Namespace: 'Shop',
      Dimensions: [[]],
      Metrics: [{ Name: 'heap_used', Unit: 'Bytes' }],
    });
  });
});
