/**
 * @sidecarless/core — service-mesh capabilities inside a serverless function.
 *
 * Create one mesh per function with {@link createMesh}, then wrap handlers with a platform
 * adapter (`@sidecarless/lambda`, `@sidecarless/openfaas`, `@sidecarless/knative`…) or run them
 * in-process with `invoke` from `@sidecarless/core/local`.
 *
 * @packageDocumentation
 */

export { deadlineFromHeader, deadlineHeader } from './deadline-header.js';
export type { Duration } from './duration.js';
export { parseDuration } from './duration.js';
export {
  ConfigError,
  type ConfigIssue,
  ErrorCodes,
  isSidecarlessError,
  SidecarlessError,
  type SidecarlessErrorOptions,
} from './errors.js';
export type {
  AnyFeature,
  CheckHost,
  Feature,
  FeatureHost,
  FeatureSections,
  ReconfigureResult,
} from './features.js';
export { LazyResponse } from './lazy-response.js';
export { createMesh, type Mesh, type MeshOptionsWith, type Sections } from './mesh.js';
export {
  type InvocationOptions,
  type MeshOptions,
  type NormalizedOptions,
  normalizeOptions,
} from './options/index.js';
export type { ApplicationLogger, LogDestination, LoggingOptions } from './options/logging.js';
export { json, text } from './response-helpers.js';
export { traceContextOf } from './trace-context.js';
export type {
  AuthInfo,
  BucketGrant,
  CallLimiter,
  CallLimiterProvider,
  ClientSpan,
  EventHandler,
  EventNext,
  Flusher,
  HeaderSetter,
  HttpHandler,
  HttpNext,
  InvocationFacts,
  InvocationTelemetry,
  LogFn,
  Logger,
  LogLevel,
  MeshContext,
  OutboundAttempt,
  PeerCertificateFact,
  PeerIdentity,
  Platform,
  SharedStore,
  SharedStoreProvider,
  Stage,
  TelemetryFacts,
  TokenBucketSpec,
  TraceCarrier,
  Trigger,
  UpstreamCallContext,
  UpstreamClient,
  UpstreamProvider,
} from './types.js';
