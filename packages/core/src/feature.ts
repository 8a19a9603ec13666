/**
 * `@sidecarless/core/feature`: the kit a feature package builds on — the feature types, the
 * options-checking helpers every section uses (so every message has the same shape: the path,
 * what was wrong, the fix), and typed access to the parts of an invocation a feature sets.
 * Applications do not need it; `@sidecarless/auth`, `/telemetry` and `/outbound` are built on it.
 *
 * @packageDocumentation
 */

export type { FeatureContext } from './context.js';
export { invocationOf, unknownUpstream } from './context.js';
export { badRequest, errorBrand } from './errors.js';
export type {
  AnyFeature,
  CheckHost,
  Feature,
  FeatureHost,
  FeatureSections,
  ReconfigureResult,
} from './features.js';
export { FlushTimes } from './flush-times.js';
export { clientAddress, ipBlock, ipMatcher, normalizeIp } from './ip.js';
export { nodeBuiltin } from './node-builtin.js';
export {
  arrayOf,
  boolean,
  type Checker,
  checkObject,
  describe,
  duration,
  IssueList,
  integer,
  isPlainObject,
  join,
  oneOf,
  optional,
  string,
} from './options/schema.js';
export { lineWriter } from './stdout.js';
export { workloadLabels } from './workload-labels.js';
