/**
 * The one place that turns configured features into pipeline stages. A feature's code is
 * loaded with `import()` only when its options section is present, so a function that does not
 * configure it never pays to load it (see bench/cold-start.mjs).
 *
 * Order matters and is stated once here, outermost first:
 *   telemetry (so a span covers everything) → authentication → authorization policy → limits.
 * User middleware runs inside all of them, around the handler.
 */
import type { NormalizedOptions } from './options/index.js';
import type { Stage } from './pipeline.js';

interface FeatureEntry {
  /** Loads the feature and returns its stage, or `undefined` when it adds none. */
  load(options: NormalizedOptions): Promise<Stage | undefined> | undefined;
}

/** Registered features, outermost first. Each feature issue adds its entry. */
const features: readonly FeatureEntry[] = [];

/** Loads the stages of every configured feature, outermost first. */
export async function loadFeatureStages(options: NormalizedOptions): Promise<Stage[]> {
  const loaded = await Promise.all(features.map((feature) => feature.load(options)));
  return loaded.filter((stage): stage is Stage => stage !== undefined);
}
