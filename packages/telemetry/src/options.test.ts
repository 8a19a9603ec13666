import { ConfigError, normalizeOptions } from '@sidecarless/core';
import { describe, expect, it } from 'vitest';
import { telemetry } from './index.js';

function issuesOf(options: unknown, env: NodeJS.ProcessEnv = {}): { path: string; message: string }[] {
  try {
    normalizeOptions(options, [telemetry], env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

describe('the telemetry options section', () => {
  it('is undefined when absent, so the feature is never loaded', () => {
    expect(normalizeOptions({ service: 's' }, [telemetry], {}).section(telemetry)).toBeUndefined();
  });

  it('applies defaults: no tracing, metrics off, trace ids and access log on', () => {
    expect(normalizeOptions({ service: 's', telemetry: {} }, [telemetry], {}).section(telemetry)).toEqual({
      tracing: undefined,
      metrics: {
        exporter: 'off',
        port: 9464,
        host: '127.0.0.1',
        namespace: 'Sidecarless',
        application: true,
        cardinalityLimit: 2000,
      },
      logging: { traceContext: true, accessLog: true },
      timeoutMarginMs: 100,
    });
  });

  it('reads the OTLP endpoint and service name from the standard variables', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_SERVICE_NAME: 'orders-api' };
    const tracing = normalizeOptions(
      { service: 'orders', telemetry: { tracing: { exporter: 'otlp' } } },
      [telemetry],
      env,
    ).section(telemetry)?.tracing;
    expect(tracing).toMatchObject({
      exporter: 'otlp',
      endpoint: 'http://collector:4318/v1/traces',
      serviceName: 'orders-api',
      ratio: 1,
    });
    const specific = normalizeOptions(
      { service: 'orders', telemetry: { tracing: { exporter: 'otlp' } } },
      [telemetry],
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom' },
    ).section(telemetry)?.tracing;
    expect(specific?.endpoint).toBe('http://traces:4318/custom');
    expect(specific?.serviceName).toBe('orders');
  });

  it('follows OTEL_TRACES_SAMPLER and _ARG (options winning), and OTEL_SDK_DISABLED', () => {
    const ratio = (env: Record<string, string>, sampling?: unknown) =>
      normalizeOptions(
        {
          service: 's',
          telemetry: {
            tracing: {
              exporter: 'otlp',
              endpoint: 'http://c:4318/v1/traces',
              ...(sampling === undefined ? {} : { sampling }),
            },
          },
        },
        [telemetry],
        env,
      ).section(telemetry)?.tracing?.ratio;
    expect(ratio({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' })).toBe(
      0.25,
    );
    expect(ratio({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' })).toBe(0.5);
    expect(ratio({ OTEL_TRACES_SAMPLER: 'always_off' })).toBe(0);
    expect(ratio({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' })).toBe(1);
    expect(ratio({ OTEL_TRACES_SAMPLER: 'always_off' }, { ratio: 0.1 })).toBe(0.1);
    expect(() => ratio({ OTEL_TRACES_SAMPLER: 'jaeger_remote' })).toThrow(
      /OTEL_TRACES_SAMPLER: "jaeger_remote" is not a sampler the mesh runs/,
    );
    expect(() => ratio({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' })).toThrow(
      /OTEL_TRACES_SAMPLER_ARG: "2" is not a ratio/,
    );
    const disabled = normalizeOptions(
      { service: 's', telemetry: { tracing: { exporter: 'otlp', endpoint: 'http://c:4318/v1/traces' } } },
      [telemetry],
      { OTEL_SDK_DISABLED: 'true' },
    ).section(telemetry)?.tracing;
    expect(disabled).toBeUndefined();
  });

  it('puts cloud.*, faas.* and OTEL_RESOURCE_ATTRIBUTES on the resource', () => {
    const resource = (env: Record<string, string>) =>
      normalizeOptions(
        { service: 's', telemetry: { tracing: { exporter: 'otlp', endpoint: 'http://c:4318/v1/traces' } } },
        [telemetry],
        env,
      ).section(telemetry)?.tracing?.resource;
    expect(
      resource({
        AWS_LAMBDA_FUNCTION_NAME: 'orders',
        AWS_LAMBDA_FUNCTION_VERSION: '7',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
        AWS_LAMBDA_LOG_STREAM_NAME: '2026/12/03/[7]abc',
        AWS_REGION: 'eu-west-1',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,team=shop%20core',
      }),
    ).toEqual({
      'cloud.provider': 'aws',
      'cloud.platform': 'aws_lambda',
      'cloud.region': 'eu-west-1',
      'faas.name': 'orders',
      'faas.version': '7',
      'faas.instance': '2026/12/03/[7]abc',
      'faas.max_memory': String(256 * 1_048_576),
      'deployment.environment.name': 'prod',
      team: 'shop core',
    });
    expect(resource({ K_SERVICE: 'inventory', K_REVISION: 'inventory-00002' })).toEqual({
      'faas.name': 'inventory',
      'faas.version': 'inventory-00002',
    });
  });

  it('reads exporter headers from OTEL_EXPORTER_OTLP_HEADERS, options winning', () => {
    const tracing = normalizeOptions(
      {
        service: 's',
        telemetry: {
          tracing: { exporter: 'otlp', endpoint: 'http://c:4318/v1/traces', headers: { b: 'option' } },
        },
      },
      [telemetry],
      { OTEL_EXPORTER_OTLP_HEADERS: 'a=one%20two,b=env' },
    ).section(telemetry)?.tracing;
    expect(tracing?.headers).toEqual({ a: 'one two', b: 'option' });
  });

  it('accepts a ratio or Istio randomSamplingPercentage, parent-based', () => {
    const ratio = normalizeOptions(
      { service: 's', telemetry: { tracing: { sampling: { ratio: 0.25 } } } },
      [telemetry],
      {},
    ).section(telemetry)?.tracing?.ratio;
    const percent = normalizeOptions(
      { service: 's', telemetry: { tracing: { sampling: { randomSamplingPercentage: 10 } } } },
      [telemetry],
      {},
    ).section(telemetry)?.tracing?.ratio;
    expect(ratio).toBe(0.25);
    expect(percent).toBeCloseTo(0.1);
  });

  it('accepts the short forms: sampling as a ratio, metrics: true picking the platform exposition', () => {
    const onLambda = normalizeOptions(
      { service: 's', telemetry: { tracing: { sampling: 0.5 }, metrics: true } },
      [telemetry],
      { AWS_LAMBDA_FUNCTION_NAME: 'fn' },
    ).section(telemetry);
    expect(onLambda?.tracing?.ratio).toBe(0.5);
    expect(onLambda?.metrics.exporter).toBe('emf');
    expect(
      normalizeOptions({ service: 's', telemetry: { metrics: true } }, [telemetry], {}).section(telemetry)
        ?.metrics.exporter,
    ).toBe('prometheus');
    expect(
      normalizeOptions({ service: 's', telemetry: { metrics: false } }, [telemetry], {}).section(telemetry)
        ?.metrics.exporter,
    ).toBe('off');
  });

  it('names the field and the fix for each mistake', () => {
    const issues = issuesOf({
      service: 's',
      telemetry: {
        tracing: { exporter: 'jaeger', sampling: { ratio: 2 }, headers: { 'x-api-key': 42 } },
        metrics: { exporter: 'statsd', port: 70_000 },
        logging: { acessLog: false },
      },
    });
    const byPath = Object.fromEntries(issues.map((issue) => [issue.path, issue.message]));
    expect(byPath['telemetry.tracing.exporter']).toMatch(/use "otlp" or an object with export/);
    expect(byPath['telemetry.tracing.sampling.ratio']).toMatch(/number from 0 to 1/);
    expect(byPath['telemetry.tracing.headers.x-api-key']).toMatch(/expected a string value/);
    expect(byPath['telemetry.metrics.exporter']).toMatch(/use one of "prometheus", "emf", "off"/);
    expect(byPath['telemetry.metrics.port']).toMatch(/whole number from 0 to 65535/);
    expect(byPath['telemetry.logging.acessLog']).toMatch(/did you mean "accessLog"/);
  });

  it('requires an endpoint for the OTLP exporter and refuses both sampling spellings', () => {
    const issues = issuesOf({
      service: 's',
      telemetry: { tracing: { exporter: 'otlp', sampling: { ratio: 0.5, randomSamplingPercentage: 50 } } },
    });
    expect(issues).toContainEqual({
      path: 'telemetry.tracing.endpoint',
      message: expect.stringMatching(/OTEL_EXPORTER_OTLP_ENDPOINT/),
    });
    expect(issues).toContainEqual({
      path: 'telemetry.tracing.sampling',
      message: expect.stringMatching(/not both/),
    });
  });

  it('checks telemetry.tracing.provider against what it needs', () => {
    expect(
      issuesOf({
        service: 's',
        telemetry: { tracing: { provider: 'global', exporter: 'otlp', endpoint: 'http://c:4318/v1/traces' } },
      }),
    ).toEqual([
      {
        path: 'telemetry.tracing.provider',
        message: expect.stringMatching(/remove exporter and spanProcessor, or use provider: "light"/),
      },
    ]);
    expect(issuesOf({ service: 's', telemetry: { tracing: { provider: 'light' } } })).toEqual([
      { path: 'telemetry.tracing.provider', message: expect.stringMatching(/add exporter: "otlp"/) },
    ]);
    expect(issuesOf({ service: 's', telemetry: { tracing: { provider: 'sdk' } } })).toEqual([
      { path: 'telemetry.tracing.provider', message: '"sdk" is not allowed; use one of "global", "light"' },
    ]);
    expect(
      normalizeOptions(
        { service: 's', telemetry: { tracing: { provider: 'global' } } },
        [telemetry],
        {},
      ).section(telemetry)?.tracing?.provider,
    ).toBe('global');
  });

  it('never echoes an exporter header value in its errors', () => {
    const secret = 'sk_live_0123456789abcdefghijklmnop';
    const issues = issuesOf({
      service: 's',
      telemetry: { tracing: { exporter: 'otlp', endpoint: secret, headers: { authorization: secret } } },
    });
    expect(JSON.stringify(issues)).not.toContain(secret);
  });

  it('refuses a Prometheus port without the Prometheus exporter', () => {
    expect(
      issuesOf({ service: 's', telemetry: { metrics: { exporter: 'emf', port: 9100 } } }),
    ).toContainEqual({
      path: 'telemetry.metrics.port',
      message: expect.stringMatching(/add exporter: "prometheus"/),
    });
  });
});
