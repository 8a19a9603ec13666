/**
 * @sidecarless/core — service-mesh capabilities inside a serverless function.
 *
 * Create one mesh per function with {@link createMesh}, then wrap handlers with a platform
 * adapter (`@sidecarless/lambda`, `@sidecarless/openfaas`, `@sidecarless/knative`…) or run them
 * in-process with `invoke` from `@sidecarless/core/local`.
 *
 * @packageDocumentation
 */
export type { AuthInfo, PeerCertificateFact, PeerIdentity } from './auth-types.js';
export type { MeshContext, Platform, Trigger } from './context.js';
export { type Duration, parseDuration } from './duration.js';
export {
  ConfigError,
  type ConfigIssue,
  ErrorCodes,
  isSidecarlessError,
  SidecarlessError,
  type SidecarlessErrorOptions,
} from './errors.js';
export { LazyResponse } from './lazy-response.js';
export type { Logger } from './logger.js';
export { createMesh, type Mesh } from './mesh.js';
export type {
  AuthOptions,
  AuthorizationPolicy,
  JwtRule,
  PeerAuthenticationOptions,
  PolicyCondition,
  PolicyOperation,
  PolicyRule,
  PolicySource,
} from './options/auth.js';
export {
  type InvocationOptions,
  type MeshOptions,
  type NormalizedOptions,
  normalizeOptions,
} from './options/index.js';
export type { LogDestination, LoggingOptions, LogLevel } from './options/logging.js';
export type {
  MetricsOptions,
  TelemetryLoggingOptions,
  TelemetryOptions,
  TracingOptions,
} from './options/telemetry.js';
export type { UpstreamOptions, UpstreamSettings } from './options/upstreams.js';
export { deadlineFromHeader, deadlineHeader } from './outbound/deadline-header.js';
export { UpstreamError, UpstreamErrorCodes } from './outbound/errors.js';
export {
  type AttemptEndMessage,
  type AttemptStartMessage,
  type CircuitMessage,
  type EjectionMessage,
  type RequestEndMessage,
  type RetryMessage,
  type TlsReloadMessage,
  UpstreamChannels,
} from './outbound/events.js';
export type { EventHandler, EventNext, HttpHandler, HttpNext, Stage } from './pipeline.js';
export type {
  ClientSpan,
  InvocationTelemetry,
  OutboundAttempt,
  TelemetryFacts,
  TraceCarrier,
} from './telemetry/types.js';
export type { UpstreamCallContext, UpstreamClient, UpstreamProvider } from './upstream-types.js';
