/**
 * `@sidecarless/telemetry`: traces (a light OpenTelemetry tracer, OTLP/HTTP, or the
 * application's own SDK), metrics (Prometheus or CloudWatch EMF), access lines and trace ids in
 * logs, as the outermost pipeline stage. Register it with the mesh:
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { telemetry } from '@sidecarless/telemetry';
 *
 * const mesh = createMesh(
 *   {
 *     service: 'orders',
 *     telemetry: { tracing: { exporter: 'otlp', endpoint: 'http://127.0.0.1:4318/v1/traces' }, metrics: { exporter: 'emf' } },
 *   },
 *   [telemetry],
 * );
 * ```
 *
 * @packageDocumentation
 */
import type { Feature } from '@sidecarless/core';
import { checkTelemetry, type NormalizedTelemetry, type TelemetryOptions } from './options.js';
import { loadTelemetry } from './stage.js';

export type {
  ClientSpan,
  InvocationTelemetry,
  OutboundAttempt,
  TelemetryFacts,
  TraceCarrier,
} from '@sidecarless/core';
export type {
  MetricsOptions,
  TelemetryLoggingOptions,
  TelemetryOptions,
  TracingOptions,
} from './options.js';

/** The telemetry feature: owns the `telemetry` options section. Pass it to `createMesh(options, [telemetry])`. */
export const telemetry: Feature<'telemetry', TelemetryOptions | undefined, NormalizedTelemetry> = {
  name: 'telemetry',
  section: 'telemetry',
  check: (value, _path, issues, host) => checkTelemetry(value, host.service, issues, host.env),
  start: (host) => (host.section === undefined ? undefined : loadTelemetry(host)),
};

// Importing this package adds its section to `MeshOptions`, so option objects typed as
// `MeshOptions` anywhere in the program get completion and checking for it.
declare module '@sidecarless/core' {
  interface MeshOptions {
    /** Traces, metrics and log correlation (`@sidecarless/telemetry`). */
    telemetry?: TelemetryOptions | undefined;
  }
}
