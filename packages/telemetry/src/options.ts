/**
 * The `telemetry` options section: traces (OpenTelemetry), metrics (Prometheus or CloudWatch
 * EMF) and the log extras (trace correlation, access log). Checked once at `createMesh`; the
 * telemetry code itself is imported only when this section is present.
 */

import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import {
  boolean,
  checkObject,
  describe,
  duration,
  type IssueList,
  integer,
  isPlainObject,
  oneOf,
  optional,
  string,
} from '@sidecarless/core/feature';

/**
 * Where and how spans are exported: through the mesh's light tracer (`exporter`), or into the
 * tracer provider the application registered (no `exporter`; see {@link TracingOptions.provider}).
 *
 * @example
 * ```ts
 * import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
 * import { createMesh } from '@sidecarless/core';
 * import { telemetry } from '@sidecarless/telemetry';
 *
 * // The application's own SDK: the mesh's spans go to it, the application's spans are their children.
 * new NodeTracerProvider().register();
 * const withSdk = createMesh({ service: 'orders', telemetry: { tracing: {} } }, [telemetry]);
 *
 * // The mesh's light tracer, protobuf and gzip (or OTEL_EXPORTER_OTLP_PROTOCOL / _COMPRESSION).
 * const light = createMesh(
 *   {
 *     service: 'orders',
 *     telemetry: {
 *       tracing: {
 *         exporter: 'otlp',
 *         endpoint: 'http://otel-collector:4318/v1/traces',
 *         protocol: 'http/protobuf',
 *         compression: 'gzip',
 *         provider: 'light',
 *       },
 *     },
 *   },
 *   [telemetry],
 * );
 * ```
 */
export interface TracingOptions {
  /**
   * `"otlp"`: OTLP over HTTP (JSON) to {@link TracingOptions.endpoint} or the standard
   * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT` variables. Or an
   * exporter object of your own (a vendor's, an in-memory one in tests). Absent: spans go to
   * the tracer provider the application registered with `@opentelemetry/api`, if any, and no
   * SDK is loaded.
   */
  exporter?: 'otlp' | SpanExporter;
  /**
   * A span processor of your own (the SDK's batch or simple processor, a vendor's), fed every
   * sampled span — besides the batch around `exporter` when both are set. The mesh's tracer
   * drives it as the SDK's would (`onStart`, `onEnd`, `forceFlush` at every flush); the mesh
   * itself never loads the SDK.
   */
  spanProcessor?: SpanProcessor;
  /** The OTLP/HTTP traces URL, for example `"http://collector:4318/v1/traces"`. */
  endpoint?: string;
  /** Extra headers sent with every export (vendor API keys). Never logged. */
  headers?: Readonly<Record<string, string>>;
  /** `service.name` of the spans. Default: `OTEL_SERVICE_NAME`, else the mesh's `service`. */
  serviceName?: string;
  /**
   * Parent-based ratio sampling: an incoming sampled/unsampled decision is followed; a new trace
   * is sampled with this probability. Give either `ratio` (0–1) or Istio's
   * `randomSamplingPercentage` (0–100); a bare number is a ratio. Default: every trace.
   */
  sampling?: number | { ratio?: number; randomSamplingPercentage?: number };
  /**
   * How long one export may take before it is abandoned. Default: `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`
   * / `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), else `"2s"`.
   */
  exportTimeout?: string | number;
  /**
   * The OTLP/HTTP encoding of `exporter: "otlp"`: `"http/json"` or `"http/protobuf"` (what the
   * Collector and most vendors document). Default: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` /
   * `OTEL_EXPORTER_OTLP_PROTOCOL`, else `"http/json"`. gRPC is not spoken by the mesh's exporter:
   * register your own provider with the gRPC exporter for that.
   */
  protocol?: 'http/json' | 'http/protobuf';
  /**
   * `"gzip"` compresses each export body. Default: `OTEL_EXPORTER_OTLP_TRACES_COMPRESSION` /
   * `OTEL_EXPORTER_OTLP_COMPRESSION`, else `"none"`.
   */
  compression?: 'gzip' | 'none';
  /**
   * Whose tracer provider records the mesh's spans.
   * - absent: the provider the application registered with `@opentelemetry/api` before the
   *   mesh got ready (`NodeTracerProvider.register()`, `NodeSDK.start()`, the OpenTelemetry
   *   Lambda layer) when there is one; else the mesh's light tracer when `exporter` or
   *   `spanProcessor` is set; else the api's global proxy (a provider registered later receives
   *   the spans).
   * - `"global"`: always the api's global provider, even one registered after `createMesh`;
   *   the mesh sets up nothing (no `exporter` or `spanProcessor` then).
   * - `"light"`: always the mesh's light tracer and `exporter`, even beside an application's
   *   provider (the application's own spans still become children of the mesh's).
   */
  provider?: 'global' | 'light';
}

/** Which metrics exposition to use. */
export interface MetricsOptions {
  /**
   * `"prometheus"`: text exposition on its own port (OpenFaaS, Knative, Kubeless).
   * `"emf"`: one CloudWatch Embedded Metric Format line per invocation (Lambda).
   * `"off"` (default): nothing is recorded.
   */
  exporter?: 'prometheus' | 'emf' | 'off';
  /** Prometheus port. Default `9464` (of-watchdog owns 8081 in the same container). */
  port?: number;
  /** Prometheus bind address. Default `"127.0.0.1"`; use `"0.0.0.0"` so the cluster can scrape. */
  host?: string;
  /** CloudWatch namespace for EMF. Default `"Sidecarless"`. */
  namespace?: string;
  /**
   * Export the application's own metrics: while metrics are on, the mesh registers a global
   * OpenTelemetry `MeterProvider`, so instruments made with `metrics.getMeter(...)` from
   * `@opentelemetry/api` are exported with the mesh's metrics (Prometheus endpoint, or the
   * invocation's EMF line). An application that registered its own provider first keeps it.
   * `false`: no provider is registered and `@opentelemetry/api` is not loaded for metrics.
   * Default `true`.
   *
   * @example
   * ```ts
   * import { metrics } from '@opentelemetry/api';
   * import { createMesh } from '@sidecarless/core';
   * import { telemetry } from '@sidecarless/telemetry';
   *
   * const mesh = createMesh({ service: 'checkout', telemetry: { metrics: { exporter: 'prometheus' } } }, [telemetry]);
   * await mesh.ready();
   * const orders = metrics.getMeter('checkout').createCounter('orders_placed_total');
   * orders.add(1, { tier: 'gold' });
   * ```
   */
  application?: boolean;
  /**
   * The most attribute sets one application instrument keeps, the overflow series included (the
   * OpenTelemetry SDK's cardinality limit); recordings with new sets past it go to the series
   * with `otel.metric.overflow="true"` and are counted in `serverless_metric_overflow_total`.
   * Default `2000`, the SDK's.
   */
  cardinalityLimit?: number;
}

/** Telemetry additions to the logs. */
export interface TelemetryLoggingOptions {
  /** Add `trace_id`, `span_id`, `trace_flags` to every `ctx.log` line. Default `true`. */
  traceContext?: boolean;
  /** One `access` line per invocation (method, path, status, duration, principal). Default `true`. */
  accessLog?: boolean;
}

/** The `telemetry` section of the mesh options. */
export interface TelemetryOptions {
  tracing?: TracingOptions;
  /**
   * `true` picks the platform's exposition: EMF on Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set),
   * Prometheus elsewhere. `false` or absent: off.
   */
  metrics?: MetricsOptions | boolean;
  logging?: TelemetryLoggingOptions;
  /**
   * How long before the deadline a still-running invocation's span is ended as timed out and
   * flushed, so the platform's kill does not lose it. Default `"100ms"`.
   */
  timeoutMargin?: string | number;
}

export interface NormalizedTracing {
  /** The exporter to load the SDK for; undefined: use the application's provider. */
  readonly exporter: 'otlp' | SpanExporter | undefined;
  readonly spanProcessor: SpanProcessor | undefined;
  readonly endpoint: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly serviceName: string;
  readonly ratio: number;
  readonly exportTimeoutMs: number;
  readonly protocol: 'http/json' | 'http/protobuf';
  readonly compression: 'gzip' | 'none';
  /** Undefined: decided when the mesh gets ready (see {@link TracingOptions.provider}). */
  readonly provider: 'global' | 'light' | undefined;
  /**
   * The resource's attributes besides `service.name`/`service.version`: `OTEL_RESOURCE_ATTRIBUTES`,
   * then what the platform says (`cloud.*`, `faas.*` from Lambda's and Knative's variables).
   */
  readonly resource: Readonly<Record<string, string>>;
}

export interface NormalizedMetrics {
  readonly exporter: 'prometheus' | 'emf' | 'off';
  readonly port: number;
  readonly host: string;
  readonly namespace: string;
  /** Register the mesh's MeterProvider for the application's instruments. */
  readonly application: boolean;
  readonly cardinalityLimit: number;
}

export interface NormalizedTelemetry {
  /** Undefined when `telemetry.tracing` is absent: no spans. */
  readonly tracing: NormalizedTracing | undefined;
  readonly metrics: NormalizedMetrics;
  readonly logging: { readonly traceContext: boolean; readonly accessLog: boolean };
  readonly timeoutMarginMs: number;
}

const metricExporters = ['prometheus', 'emf', 'off'] as const;

/** Checks the `telemetry` section; `undefined` when absent (the feature is then never loaded). */
export function checkTelemetry(
  value: unknown,
  service: string | undefined,
  issues: IssueList,
  env: NodeJS.ProcessEnv,
): NormalizedTelemetry | undefined {
  if (value === undefined) return undefined;
  const input = checkObject(value, 'telemetry', issues, ['tracing', 'metrics', 'logging', 'timeoutMargin']);
  if (!input) return undefined;
  const logging =
    input.logging === undefined
      ? {}
      : checkObject(input.logging, 'telemetry.logging', issues, ['traceContext', 'accessLog']);
  return {
    tracing: checkTracing(input.tracing, service, issues, env),
    metrics: checkMetrics(input.metrics, issues, env),
    logging: {
      traceContext:
        (logging && optional(logging, 'traceContext', 'telemetry.logging', issues, boolean)) ?? true,
      accessLog: (logging && optional(logging, 'accessLog', 'telemetry.logging', issues, boolean)) ?? true,
    },
    timeoutMarginMs: optional(input, 'timeoutMargin', 'telemetry', issues, duration) ?? 100,
  };
}

function checkTracing(
  value: unknown,
  service: string | undefined,
  issues: IssueList,
  env: NodeJS.ProcessEnv,
): NormalizedTracing | undefined {
  if (value === undefined) return undefined;
  // OpenTelemetry's kill switch: no spans at all, whatever the options say.
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return undefined;
  const path = 'telemetry.tracing';
  const input = checkObject(value, path, issues, [
    'exporter',
    'spanProcessor',
    'endpoint',
    'headers',
    'serviceName',
    'sampling',
    'exportTimeout',
    'protocol',
    'compression',
    'provider',
  ]);
  if (!input) return undefined;

  let exporter: NormalizedTracing['exporter'];
  if (input.exporter === 'otlp') exporter = 'otlp';
  else if (isPlainObjectWith(input.exporter, 'export')) exporter = input.exporter as unknown as SpanExporter;
  else if (input.exporter !== undefined)
    issues.add(
      `${path}.exporter`,
      `${describe(input.exporter)} is not an exporter; use "otlp" or an object with export(spans, done) and shutdown()`,
    );

  const spanProcessor = input.spanProcessor;
  if (spanProcessor !== undefined && !isPlainObjectWith(spanProcessor, 'onEnd')) {
    issues.add(
      `${path}.spanProcessor`,
      'expected a span processor: an object with onStart, onEnd, forceFlush and shutdown',
    );
  }

  const endpoint =
    optional(input, 'endpoint', path, issues, url) ??
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (env.OTEL_EXPORTER_OTLP_ENDPOINT
      ? `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/$/, '')}/v1/traces`
      : undefined);
  if (exporter === 'otlp' && endpoint === undefined) {
    issues.add(
      `${path}.endpoint`,
      'is required with exporter "otlp"; set endpoint: "http://collector:4318/v1/traces" or OTEL_EXPORTER_OTLP_ENDPOINT',
    );
  }
  if (exporter === undefined && spanProcessor === undefined && input.endpoint !== undefined) {
    issues.add(`${path}.exporter`, 'an endpoint is set but no exporter; add exporter: "otlp"');
  }
  const provider = optional(input, 'provider', path, issues, oneOf(providers));
  if (provider === 'global' && (exporter !== undefined || spanProcessor !== undefined))
    issues.add(
      `${path}.provider`,
      '"global" sends the spans to the application\'s provider, which exports them itself; remove exporter and spanProcessor, or use provider: "light"',
    );
  if (provider === 'light' && exporter === undefined && spanProcessor === undefined)
    issues.add(
      `${path}.provider`,
      '"light" needs somewhere to send spans; add exporter: "otlp" (or an exporter object)',
    );

  const headers: Record<string, string> = parseHeaderList(
    env.OTEL_EXPORTER_OTLP_TRACES_HEADERS ?? env.OTEL_EXPORTER_OTLP_HEADERS,
  );
  if (input.headers !== undefined) {
    if (!isPlainObject(input.headers))
      issues.add(`${path}.headers`, 'expected an object of header names to string values');
    else
      for (const [name, headerValue] of Object.entries(input.headers)) {
        if (typeof headerValue === 'string') headers[name] = headerValue;
        else issues.add(`${path}.headers.${name}`, 'expected a string value (never shown in errors or logs)');
      }
  }

  return {
    exporter,
    spanProcessor: spanProcessor as SpanProcessor | undefined,
    endpoint,
    headers,
    serviceName:
      optional(input, 'serviceName', path, issues, string('use the service name spans should carry')) ??
      env.OTEL_SERVICE_NAME ??
      service ??
      'unknown_service',
    ratio:
      input.sampling !== undefined
        ? checkSampling(input.sampling, `${path}.sampling`, issues)
        : (samplerFromEnv(env, issues) ?? 1),
    exportTimeoutMs:
      optional(input, 'exportTimeout', path, issues, duration) ?? timeoutFromEnv(env, issues) ?? 2_000,
    protocol:
      optional(input, 'protocol', path, issues, oneOf(protocols)) ??
      fromEnv(env, issues, 'PROTOCOL', protocols, grpcHint) ??
      'http/json',
    compression:
      optional(input, 'compression', path, issues, oneOf(compressions)) ??
      fromEnv(env, issues, 'COMPRESSION', compressions, '') ??
      'none',
    provider,
    resource: resourceFromEnv(env),
  };
}

const protocols = ['http/json', 'http/protobuf'] as const;
const compressions = ['gzip', 'none'] as const;
const providers = ['global', 'light'] as const;
const grpcHint =
  " (the mesh's exporter speaks OTLP over HTTP; for gRPC register your own provider with the gRPC exporter)";

/**
 * An `OTEL_EXPORTER_OTLP_TRACES_<name>` / `OTEL_EXPORTER_OTLP_<name>` variable (the traces one
 * wins, as the specification says), checked against `valid`; the issue names the variable.
 */
function fromEnv<T extends string>(
  env: NodeJS.ProcessEnv,
  issues: IssueList,
  name: string,
  valid: readonly T[],
  hint: string,
): T | undefined {
  const tracesVariable = `OTEL_EXPORTER_OTLP_TRACES_${name}`;
  const variable = env[tracesVariable] ? tracesVariable : `OTEL_EXPORTER_OTLP_${name}`;
  const raw = env[variable]?.trim();
  if (!raw) return undefined;
  const value = raw.toLowerCase();
  if ((valid as readonly string[]).includes(value)) return value as T;
  return issues.add(
    variable,
    `${describe(raw)} is not a value the mesh's exporter supports; use ${valid.map((v) => `"${v}"`).join(' or ')}${value === 'grpc' ? hint : ''}`,
  );
}

/** `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` / `OTEL_EXPORTER_OTLP_TIMEOUT`, in milliseconds. */
function timeoutFromEnv(env: NodeJS.ProcessEnv, issues: IssueList): number | undefined {
  const variable = env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT
    ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'
    : 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const raw = env[variable]?.trim();
  if (!raw) return undefined;
  const ms = Number(raw);
  if (Number.isInteger(ms) && ms > 0) return ms;
  return issues.add(variable, `${describe(raw)} is not a timeout; use whole milliseconds, such as 10000`);
}

/**
 * `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`. The mesh's sampler always follows an incoming
 * decision (parent-based), so `traceidratio` and `parentbased_traceidratio` both set the ratio
 * for new traces; options win over the variables.
 */
function samplerFromEnv(env: NodeJS.ProcessEnv, issues: IssueList): number | undefined {
  const sampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  if (!sampler) return undefined;
  if (sampler === 'always_on' || sampler === 'parentbased_always_on') return 1;
  if (sampler === 'always_off' || sampler === 'parentbased_always_off') return 0;
  if (sampler === 'traceidratio' || sampler === 'parentbased_traceidratio') {
    const arg = env.OTEL_TRACES_SAMPLER_ARG;
    if (arg === undefined || arg === '') return 1;
    const ratio = Number(arg);
    if (Number.isFinite(ratio) && ratio >= 0 && ratio <= 1) return ratio;
    return issues.add(
      'OTEL_TRACES_SAMPLER_ARG',
      `${describe(arg)} is not a ratio; use a number from 0 to 1, such as 0.1`,
    );
  }
  return issues.add(
    'OTEL_TRACES_SAMPLER',
    `${describe(env.OTEL_TRACES_SAMPLER)} is not a sampler the mesh runs; use always_on, always_off, traceidratio or their parentbased_ forms`,
  );
}

/**
 * The resource's attributes: `OTEL_RESOURCE_ATTRIBUTES` (`key=value,…`, values percent-decoded),
 * over what the platform says, in the semantic conventions' names.
 */
function resourceFromEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const resource: Record<string, string> = {};
  if (env.AWS_LAMBDA_FUNCTION_NAME) {
    resource['cloud.provider'] = 'aws';
    resource['cloud.platform'] = 'aws_lambda';
    if (env.AWS_REGION) resource['cloud.region'] = env.AWS_REGION;
    resource['faas.name'] = env.AWS_LAMBDA_FUNCTION_NAME;
    if (env.AWS_LAMBDA_FUNCTION_VERSION) resource['faas.version'] = env.AWS_LAMBDA_FUNCTION_VERSION;
    if (env.AWS_LAMBDA_LOG_STREAM_NAME) resource['faas.instance'] = env.AWS_LAMBDA_LOG_STREAM_NAME;
    const memory = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
    // faas.max_memory is in bytes; Lambda gives MiB.
    if (Number.isFinite(memory) && memory > 0) resource['faas.max_memory'] = String(memory * 1_048_576);
  } else if (env.K_SERVICE) {
    resource['faas.name'] = env.K_SERVICE;
    if (env.K_REVISION) resource['faas.version'] = env.K_REVISION;
  }
  for (const [key, value] of Object.entries(parseHeaderList(env.OTEL_RESOURCE_ATTRIBUTES)))
    resource[key] = value;
  return resource;
}

function checkSampling(value: unknown, path: string, issues: IssueList): number {
  if (value === undefined) return 1;
  if (typeof value === 'number') return between(value, 0, 1, path, issues, 'such as 0.1 for 10%') ?? 1;
  const input = checkObject(value, path, issues, ['ratio', 'randomSamplingPercentage']);
  if (!input) return 1;
  if (input.ratio !== undefined && input.randomSamplingPercentage !== undefined) {
    issues.add(path, 'give ratio (0–1) or randomSamplingPercentage (0–100), not both');
    return 1;
  }
  if (input.ratio !== undefined)
    return between(input.ratio, 0, 1, `${path}.ratio`, issues, 'such as 0.1 for 10%') ?? 1;
  if (input.randomSamplingPercentage !== undefined) {
    const percent = between(
      input.randomSamplingPercentage,
      0,
      100,
      `${path}.randomSamplingPercentage`,
      issues,
      'such as 10 for 10%',
    );
    return percent === undefined ? 1 : percent / 100;
  }
  return 1;
}

function between(
  value: unknown,
  min: number,
  max: number,
  path: string,
  issues: IssueList,
  hint: string,
): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max) return value;
  return issues.add(path, `${describe(value)} is not a number from ${min} to ${max}; use a number ${hint}`);
}

function checkMetrics(value: unknown, issues: IssueList, env: NodeJS.ProcessEnv): NormalizedMetrics {
  const defaults: NormalizedMetrics = {
    exporter: 'off',
    port: 9464,
    host: '127.0.0.1',
    namespace: 'Sidecarless',
    application: true,
    cardinalityLimit: 2000,
  };
  if (value === undefined || value === false) return defaults;
  if (value === true) return { ...defaults, exporter: env.AWS_LAMBDA_FUNCTION_NAME ? 'emf' : 'prometheus' };
  const path = 'telemetry.metrics';
  const input = checkObject(value, path, issues, [
    'exporter',
    'port',
    'host',
    'namespace',
    'application',
    'cardinalityLimit',
  ]);
  if (!input) return defaults;
  const exporter = optional(input, 'exporter', path, issues, oneOf(metricExporters)) ?? 'off';
  if (exporter !== 'prometheus' && (input.port !== undefined || input.host !== undefined)) {
    issues.add(`${path}.port`, 'port and host apply to the Prometheus endpoint; add exporter: "prometheus"');
  }
  if (exporter === 'off' && (input.application !== undefined || input.cardinalityLimit !== undefined)) {
    issues.add(
      `${path}.exporter`,
      'application and cardinalityLimit apply while metrics are exported; add exporter: "prometheus" or "emf"',
    );
  }
  return {
    exporter,
    port: optional(input, 'port', path, issues, integer(0, 65_535)) ?? defaults.port,
    host:
      optional(input, 'host', path, issues, string('use an address such as "127.0.0.1" or "0.0.0.0"')) ??
      defaults.host,
    namespace:
      optional(input, 'namespace', path, issues, string('use a CloudWatch namespace such as "Orders"')) ??
      defaults.namespace,
    application: optional(input, 'application', path, issues, boolean) ?? defaults.application,
    cardinalityLimit:
      optional(input, 'cardinalityLimit', path, issues, integer(1, 1_000_000)) ?? defaults.cardinalityLimit,
  };
}

const url = (value: unknown, path: string, issues: IssueList): string | undefined => {
  if (typeof value === 'string' && URL.canParse(value) && /^https?:/.test(value)) return value;
  return issues.add(path, `${describe(value)} is not an http(s) URL; use "http://collector:4318/v1/traces"`);
};

function isPlainObjectWith(value: unknown, method: string): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Record<string, unknown>)[method] === 'function'
  );
}

/** Parses the OTEL_EXPORTER_OTLP_HEADERS format: `key=value,key2=value2`, values URL-encoded. */
function parseHeaderList(value: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!value) return headers;
  for (const pair of value.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    try {
      headers[pair.slice(0, eq).trim()] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      headers[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
  }
  return headers;
}
