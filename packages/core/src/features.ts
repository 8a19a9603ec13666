/**
 * The one place that turns configured features into pipeline stages. A feature's code is
 * loaded with `import()` only when its options section is present, so a function that does not
 * configure it never pays to load it (see bench/cold-start.bench.ts).
 *
 * Order matters and is stated once here, outermost first:
 *   telemetry (so a span covers everything) → authentication and policy.
 * User middleware runs inside all of them, around the handler.
 *
 * A feature issue adds one entry to `features` below: `load(host)` returns `undefined` when the
 * feature's section is absent (without importing anything), else imports the feature's module
 * and returns its stage.
 */
import type { Logger } from './logger.js';
import type { Flusher } from './mesh.js';
import type { NormalizedOptions } from './options/index.js';
import type { Stage } from './pipeline.js';
import type { UpstreamProvider } from './upstream-types.js';

/** What a feature may use of the mesh while it loads. */
export interface FeatureHost {
  readonly options: NormalizedOptions;
  /** The mesh's root logger (security events, stale-key warnings…). */
  readonly log: Logger;
  /** Runs before the process may freeze or exit. */
  onFlush(flusher: Flusher): void;
  /** Runs on `mesh.close()`. */
  onClose(closer: Flusher): void;
  /** Installs the outbound client behind `ctx.upstream(name)` and `mesh.upstream(name)`. */
  provideUpstreams(provider: UpstreamProvider): void;
}

interface FeatureEntry {
  readonly name: string;
  /** Loads the feature and returns its stage; `undefined` when it is not configured or adds none. */
  load(host: FeatureHost): Promise<Stage | undefined> | undefined;
}

/** Registered features, outermost first. */
const features: readonly FeatureEntry[] = [
  {
    name: 'telemetry',
    load: (host) =>
      host.options.telemetry === undefined
        ? undefined
        : import('./telemetry/index.js').then((telemetry) => telemetry.loadTelemetry(host)),
  },
  {
    name: 'auth',
    load: (host) =>
      host.options.auth ? import('./auth/index.js').then((m) => m.createAuthStage(host)) : undefined,
  },
  {
    name: 'outbound',
    load: (host) =>
      host.options.upstreams.size === 0
        ? undefined
        : import('./outbound/index.js').then((outbound) => outbound.installOutbound(host)),
  },
];

/** Loads the stages of every configured feature, outermost first. */
export async function loadFeatureStages(host: FeatureHost): Promise<Stage[]> {
  const loaded = await Promise.all(features.map((feature) => feature.load(host)));
  return loaded.filter((stage): stage is Stage => stage !== undefined);
}
