/**
 * The standard OpenTelemetry environment, end to end: the resource a real OTLP receiver gets
 * carries OTEL_RESOURCE_ATTRIBUTES and the platform's cloud.* / faas.* facts, and
 * OTEL_TRACES_SAMPLER=always_off sends nothing; OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL,
 * _COMPRESSION and _HEADERS shape what the exporter sends; a value the exporter cannot speak is a
 * ConfigError naming the variable.
 */
import { ConfigError, createMesh, json, normalizeOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { startOtlpReceiver } from '@sidecarless/testing';
import { afterEach, expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

it('puts the platform facts and OTEL_RESOURCE_ATTRIBUTES on every span’s resource', async () => {
  const receiver = await startOtlpReceiver();
  Object.assign(process.env, {
    K_SERVICE: 'inventory',
    K_REVISION: 'inventory-00003',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=staging',
  });
  const mesh = createMesh(
    {
      service: 'inventory',
      logging: { level: 'silent' },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
    },
    [telemetry],
  );
  try {
    await invoke(mesh, async () => json({ ok: true }), 'http://localhost/stock/1');
    await mesh.flush();
    expect(receiver.spans).toHaveLength(1);
    expect(receiver.spans[0]!.resource).toMatchObject({
      'service.name': 'inventory',
      'faas.name': 'inventory',
      'faas.version': 'inventory-00003',
      'deployment.environment.name': 'staging',
    });
  } finally {
    await mesh.close();
    await receiver.close();
  }
});

it('sends no spans under OTEL_TRACES_SAMPLER=always_off', async () => {
  const receiver = await startOtlpReceiver();
  process.env.OTEL_TRACES_SAMPLER = 'always_off';
  const mesh = createMesh(
    {
      service: 'inventory',
      logging: { level: 'silent' },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
    },
    [telemetry],
  );
  try {
    for (let i = 0; i < 5; i++)
      await invoke(mesh, async () => json({ ok: true }), 'http://localhost/stock/1');
    await mesh.flush();
    expect(receiver.spans).toEqual([]);
  } finally {
    await mesh.close();
    await receiver.close();
  }
});

it('sends gzip-compressed protobuf with the traces headers under the standard variables', async () => {
  const receiver = await startOtlpReceiver();
  Object.assign(process.env, {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    // The traces variable wins over the general one, as the specification says.
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=general,x-api-key=general-key',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-api-key=traces%20key',
  });
  const mesh = createMesh(
    { service: 'inventory', logging: { level: 'silent' }, telemetry: { tracing: { exporter: 'otlp' } } },
    [telemetry],
  );
  try {
    await invoke(mesh, async () => json({ ok: true }), 'http://localhost/stock/1');
    await mesh.flush();
    const [span] = await receiver.waitForSpans(1);
    expect(span).toMatchObject({ name: 'GET', kind: 2, attributes: { 'url.path': '/stock/1' } });
    // The connection-opening request (empty) and the export: both protobuf, both gzip.
    const exported = receiver.requestHeaders.at(-1)!;
    expect(exported['content-type']).toBe('application/x-protobuf');
    expect(exported['content-encoding']).toBe('gzip');
    expect(exported['x-api-key']).toBe('traces key');
    expect(exported['x-tenant']).toBeUndefined();
  } finally {
    await mesh.close();
    await receiver.close();
  }
});

it('uses the general OTLP headers when no traces headers are set', async () => {
  const receiver = await startOtlpReceiver();
  process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-tenant=general,x-api-key=general-key';
  const mesh = createMesh(
    {
      service: 'inventory',
      logging: { level: 'silent' },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
    },
    [telemetry],
  );
  try {
    await invoke(mesh, async () => json({ ok: true }), 'http://localhost/');
    await mesh.flush();
    await receiver.waitForSpans(1);
    expect(receiver.requestHeaders.at(-1)).toMatchObject({
      'x-tenant': 'general',
      'x-api-key': 'general-key',
      'content-type': 'application/json',
    });
  } finally {
    await mesh.close();
    await receiver.close();
  }
});

function configIssues(env: NodeJS.ProcessEnv): string[] {
  try {
    normalizeOptions(
      {
        service: 's',
        telemetry: { tracing: { exporter: 'otlp', endpoint: 'http://127.0.0.1:4318/v1/traces' } },
      },
      [telemetry],
      env,
    );
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues.map((issue) => `${issue.path}: ${issue.message}`);
  }
  throw new Error('expected a ConfigError');
}

it('names the variable and the valid values when a protocol or compression is unknown', () => {
  expect(configIssues({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml' })).toEqual([
    'OTEL_EXPORTER_OTLP_PROTOCOL: "http/xml" is not a value the mesh\'s exporter supports; use "http/json" or "http/protobuf"',
  ]);
  const [grpc] = configIssues({ OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' });
  expect(grpc).toMatch(
    /^OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "grpc" .* use "http\/json" or "http\/protobuf" .*gRPC exporter/,
  );
  expect(configIssues({ OTEL_EXPORTER_OTLP_COMPRESSION: 'br' })).toEqual([
    'OTEL_EXPORTER_OTLP_COMPRESSION: "br" is not a value the mesh\'s exporter supports; use "gzip" or "none"',
  ]);
  expect(configIssues({ OTEL_EXPORTER_OTLP_TIMEOUT: '2s' })).toEqual([
    'OTEL_EXPORTER_OTLP_TIMEOUT: "2s" is not a timeout; use whole milliseconds, such as 10000',
  ]);
});

it('lets the options win over the variables', () => {
  const tracing = normalizeOptions(
    {
      service: 's',
      telemetry: {
        tracing: {
          exporter: 'otlp',
          endpoint: 'http://127.0.0.1:4318/v1/traces',
          protocol: 'http/json',
          compression: 'none',
          exportTimeout: '500ms',
        },
      },
    },
    [telemetry],
    {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '10000',
    },
  ).section(telemetry)?.tracing;
  expect(tracing).toMatchObject({ protocol: 'http/json', compression: 'none', exportTimeoutMs: 500 });
  const fromEnv = normalizeOptions(
    {
      service: 's',
      telemetry: { tracing: { exporter: 'otlp', endpoint: 'http://127.0.0.1:4318/v1/traces' } },
    },
    [telemetry],
    { OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/PROTOBUF', OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '10000' },
  ).section(telemetry)?.tracing;
  expect(fromEnv).toMatchObject({ protocol: 'http/protobuf', compression: 'none', exportTimeoutMs: 10_000 });
});
