/**
 * Registers the mesh's `MeterProvider` as `@opentelemetry/api`'s global, so
 * `metrics.getMeter(...)` in the application records into the mesh. Loaded (with the API) only
 * when metrics are on and `telemetry.metrics.application` is not `false`.
 *
 * An application that registered a provider of its own (the OpenTelemetry SDK's, a vendor's)
 * keeps it: the API refuses a second registration, and the mesh then leaves the global alone and
 * exports only its own metrics.
 */
import { metrics } from '@opentelemetry/api';
import { ApplicationMetrics, type ApplicationMetricsOptions } from './app-metrics.js';

/** The registered provider, or undefined when the application's own provider is in place. */
export interface ApplicationMetricsHandle {
  readonly metrics: ApplicationMetrics;
  /** Removes the global registration (on `mesh.close()`), if it is still this provider. */
  unregister(): void;
}

export function registerApplicationMetrics(
  options: ApplicationMetricsOptions,
): ApplicationMetricsHandle | undefined {
  const provider = new ApplicationMetrics(options);
  if (!metrics.setGlobalMeterProvider(provider)) return undefined;
  return {
    metrics: provider,
    unregister: () => {
      if (metrics.getMeterProvider() === provider) metrics.disable();
    },
  };
}

export { renderApplicationPrometheus, takeApplicationEmf } from './app-metrics-exposition.js';
