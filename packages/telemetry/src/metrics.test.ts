import { describe, expect, it } from 'vitest';
import { createEmfRenderer, createEmfTallyRenderer, MetricsRegistry, renderPrometheus } from './metrics.js';
import { pathOf } from './stage.js';
import { InvocationTally } from './untraced-telemetry.js';

describe('the metrics registry', () => {
  it('renders counters and a cumulative histogram in the Prometheus text format', () => {
    const registry = new MetricsRegistry('orders');
    const series = registry.invocationSeries('knative', 'http');
    series.record(0.003, false, true, false);
    series.record(0.2, true, false, false);
    series.record(1_000, true, false, true);
    registry.upstreamRequest('inventory', '200');
    registry.upstreamRequest('inventory', '200');
    registry.increment(registry.authDenied, 'expired');
    const text = renderPrometheus(registry);
    const labels = 'function="orders",platform="knative",trigger="http"';
    expect(text).toContain(`serverless_function_invocations_total{${labels}} 3\n`);
    expect(text).toContain(`serverless_function_errors_total{${labels}} 2\n`);
    expect(text).toContain(`serverless_function_cold_starts_total{${labels}} 1\n`);
    expect(text).toContain(`serverless_function_timeouts_total{${labels}} 1\n`);
    expect(text).toContain(`serverless_function_duration_seconds_bucket{${labels},le="0.005"} 1\n`);
    expect(text).toContain(`serverless_function_duration_seconds_bucket{${labels},le="0.25"} 2\n`);
    expect(text).toContain(`serverless_function_duration_seconds_bucket{${labels},le="900"} 2\n`);
    expect(text).toContain(`serverless_function_duration_seconds_bucket{${labels},le="+Inf"} 3\n`);
    expect(text).toContain(`serverless_function_duration_seconds_count{${labels}} 3\n`);
    expect(text).toContain(
      'serverless_upstream_requests_total{function="orders",upstream="inventory",code="200"} 2\n',
    );
    expect(text).toContain('serverless_auth_denied_total{function="orders",reason="expired"} 1\n');
    expect(text).toContain('# TYPE serverless_function_duration_seconds histogram\n');
  });

  it('renders the route and mirror counters with every label, in Prometheus and EMF', () => {
    const registry = new MetricsRegistry('checkout');
    registry.routeRequests.add(['payments/v2', 'canary', 'v2', 'none']);
    registry.routeRequests.add(['payments/v2', 'canary', 'v2', 'none']);
    registry.routeRequests.add(['payments', 'drill', 'unknown', 'abort']);
    registry.mirrors.add(['shadow', 'dropped']);
    const text = renderPrometheus(registry);
    expect(text).toContain(
      'serverless_upstream_route_requests_total{function="checkout",upstream="payments/v2",route="canary",subset="v2",fault="none"} 2\n',
    );
    expect(text).toContain(
      'serverless_upstream_route_requests_total{function="checkout",upstream="payments",route="drill",subset="unknown",fault="abort"} 1\n',
    );
    expect(text).toContain(
      'serverless_upstream_mirrors_total{function="checkout",upstream="shadow",outcome="dropped"} 1\n',
    );

    const tally = new InvocationTally();
    tally.routeRequests.add(['payments', 'drill', 'unknown', 'abort']);
    tally.mirrors.add(['shadow', 'sent']);
    const lines = createEmfTallyRenderer('Shop', 'checkout')(tally, 'inv-1')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['function', 'upstream', 'route', 'subset', 'fault']] }] },
      upstream: 'payments',
      route: 'drill',
      subset: 'unknown',
      fault: 'abort',
      serverless_upstream_route_requests_total: 1,
    });
    expect(lines[1]).toMatchObject({
      upstream: 'shadow',
      outcome: 'sent',
      serverless_upstream_mirrors_total: 1,
    });
  });

  it('escapes label values', () => {
    const registry = new MetricsRegistry('a"b\\c');
    registry.invocationSeries('local', 'http').record(0, false, false, false);
    expect(renderPrometheus(registry)).toContain('function="a\\"b\\\\c"');
  });

  it('returns the same series object for a label pair it has seen', () => {
    const registry = new MetricsRegistry('orders');
    expect(registry.invocationSeries('local', 'http')).toBe(registry.invocationSeries('local', 'http'));
    expect(registry.invocationSeries('local', 'http')).not.toBe(registry.invocationSeries('local', 'pubsub'));
  });

  it('writes one CloudWatch EMF record per invocation', () => {
    const line = createEmfRenderer(
      'Shop',
      'orders',
    )({
      platform: 'aws-lambda',
      trigger: 'http',
      durationMs: 12.5,
      failed: true,
      coldStart: false,
      timedOut: false,
      invocationId: 'req-1',
      traceId: '0af7651916cd43dd8448eb211c80319c',
    });
    expect(line.endsWith('\n')).toBe(true);
    const record = JSON.parse(line);
    expect(record._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Shop',
      Dimensions: [['function', 'platform', 'trigger']],
    });
    const declared = record._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name);
    for (const name of declared) expect(typeof record[name]).toBe('number');
    expect(record).toMatchObject({
      function: 'orders',
      platform: 'aws-lambda',
      trigger: 'http',
      serverless_function_errors_total: 1,
      serverless_function_duration_seconds: 0.0125,
      trace_id: '0af7651916cd43dd8448eb211c80319c',
    });
  });
});

describe('pathOf', () => {
  it('takes the path of an absolute URL without its query or fragment', () => {
    expect(pathOf('http://localhost/orders/7?token=x#y')).toBe('/orders/7');
    expect(pathOf('https://example.com')).toBe('/');
    expect(pathOf('http://h:8080/a/b#frag')).toBe('/a/b');
  });
});
