/**
 * The options `createMesh` accepts, and their one-time check. Each section has its own checker;
 * a feature issue adds its section here (one line in `sectionCheckers`) and its file beside this one.
 */

import type { Duration } from '../duration.js';
import { ConfigError } from '../errors.js';
import type { Stage } from '../pipeline.js';
import { type AuthOptions, checkAuth, type NormalizedAuth } from './auth.js';
import { checkLogging, type LoggingOptions, type NormalizedLogging } from './logging.js';
import { boolean, checkObject, duration, IssueList, isPlainObject, optional, string } from './schema.js';
import { checkTelemetry, type NormalizedTelemetry, type TelemetryOptions } from './telemetry.js';
import { checkUpstreams, type NormalizedUpstream, type UpstreamOptions } from './upstreams.js';

/**
 * Everything `createMesh` accepts. Unknown keys are errors, so a typo never silently turns a
 * feature off.
 */
export interface MeshOptions {
  /**
   * The service (function) name, used in logs, metrics and spans. Defaults to the platform's
   * own name: `AWS_LAMBDA_FUNCTION_NAME`, `K_SERVICE`, then `SIDECARLESS_SERVICE`.
   */
  service?: string;
  /** The service version. Defaults to `AWS_LAMBDA_FUNCTION_VERSION` or `K_REVISION`. */
  version?: string;
  /** Structured logging (JSON lines). */
  logging?: LoggingOptions;
  /** Time limits of one invocation. */
  invocation?: InvocationOptions;
  /**
   * Your own pipeline stages. They run inside the built-in ones (after authentication and
   * policy, around the handler), outermost first.
   */
  middleware?: readonly Stage[];
  /** Inbound JWT authentication, authorization policies and peer identity (loaded only when set). */
  auth?: AuthOptions;
  /** Traces, metrics and log correlation. Absent: none of the telemetry code is loaded. */
  telemetry?: TelemetryOptions | undefined;
  /** The services this function calls, by name: `ctx.upstream(name)` (see docs/features/outbound.md). */
  upstreams?: Readonly<Record<string, UpstreamOptions>>;
}

/** Time limits of one invocation. */
export interface InvocationOptions {
  /**
   * The deadline to use when the platform gives none (the local adapter, a server without a
   * timeout). Default `"30s"`.
   */
  timeout?: Duration;
  /**
   * How long before the platform's deadline `ctx.signal` fires, so the handler can stop cleanly
   * before it is killed. Default `0`.
   */
  safetyMargin?: Duration;
  /**
   * Honour the remaining budget a Sidecarless caller sends in `x-sidecarless-deadline-ms`, so a
   * chain of functions shares one deadline. It can only shorten this invocation's deadline.
   * Turn it on when callers are trusted (mTLS, JWT, or a private network). Default false.
   */
  callerDeadline?: boolean;
}

/** Options after checking: defaults applied, durations in milliseconds. */
export interface NormalizedOptions {
  readonly service: string;
  readonly version: string | undefined;
  readonly logging: NormalizedLogging;
  readonly invocation: {
    readonly timeoutMs: number;
    readonly safetyMarginMs: number;
    readonly callerDeadline: boolean;
  };
  readonly middleware: readonly Stage[];
  /** The checked `auth` section, or undefined when absent. */
  readonly auth: NormalizedAuth | undefined;
  /** Undefined when the `telemetry` section is absent. */
  readonly telemetry: NormalizedTelemetry | undefined;
  /** Configured upstreams by name; empty when the section is absent. */
  readonly upstreams: ReadonlyMap<string, NormalizedUpstream>;
}

const topLevelKeys = [
  'service',
  'version',
  'logging',
  'invocation',
  'middleware',
  'telemetry',
  'auth',
  'upstreams',
] as const;

/**
 * Checks `options` once and returns them normalised, or throws a {@link ConfigError} listing
 * every problem with its path and fix. `createMesh` calls it; call it yourself to validate a
 * configuration without creating a mesh (in CI, say).
 *
 * @example
 * ```ts
 * import { ConfigError, normalizeOptions } from '@sidecarless/core';
 *
 * try {
 *   normalizeOptions({ service: 'orders', invocation: { timeout: '2 sec' } });
 * } catch (error) {
 *   if (error instanceof ConfigError) for (const issue of error.issues) console.error(`${issue.path}: ${issue.message}`);
 * }
 * ```
 */
export function normalizeOptions(options: unknown, env: NodeJS.ProcessEnv = process.env): NormalizedOptions {
  const issues = new IssueList();
  const input = checkObject(options ?? {}, '', issues, topLevelKeys) ?? {};

  const service =
    optional(input, 'service', '', issues, string('use the function name, for example "orders"')) ??
    env.AWS_LAMBDA_FUNCTION_NAME ??
    env.K_SERVICE ??
    env.SIDECARLESS_SERVICE;
  if (service === undefined && input.service === undefined) {
    issues.add('service', 'is required when the platform does not name the function; set service: "orders"');
  }
  const version =
    optional(input, 'version', '', issues, string('use a version label such as "1.4.0"')) ??
    env.AWS_LAMBDA_FUNCTION_VERSION ??
    env.K_REVISION;

  const logging = checkLogging(input.logging, 'logging', issues, env);
  const invocation = checkInvocation(input.invocation, issues);
  const middleware = checkMiddleware(input.middleware, issues);
  const auth = checkAuth(input.auth, 'auth', issues);
  const telemetry = checkTelemetry(input.telemetry, service, issues, env);
  const upstreams = checkUpstreams(input.upstreams, issues);

  if (issues.issues.length > 0) throw new ConfigError(issues.issues);
  return {
    service: service ?? '',
    version,
    logging: logging!,
    invocation,
    middleware,
    auth,
    telemetry,
    upstreams,
  };
}

function checkInvocation(value: unknown, issues: IssueList): NormalizedOptions['invocation'] {
  const defaults = { timeoutMs: 30_000, safetyMarginMs: 0, callerDeadline: false };
  if (value === undefined) return defaults;
  const input = checkObject(value, 'invocation', issues, ['timeout', 'safetyMargin', 'callerDeadline']);
  if (!input) return defaults;
  return {
    timeoutMs: optional(input, 'timeout', 'invocation', issues, duration) ?? defaults.timeoutMs,
    safetyMarginMs:
      optional(input, 'safetyMargin', 'invocation', issues, duration) ?? defaults.safetyMarginMs,
    callerDeadline:
      optional(input, 'callerDeadline', 'invocation', issues, boolean) ?? defaults.callerDeadline,
  };
}

function checkMiddleware(value: unknown, issues: IssueList): readonly Stage[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.add('middleware', 'expected an array of stages: [{ name, http(next) { … } }]');
    return [];
  }
  const stages: Stage[] = [];
  value.forEach((stage, index) => {
    const path = `middleware[${index}]`;
    if (!isPlainObject(stage) || typeof stage.name !== 'string' || stage.name === '') {
      issues.add(path, 'a stage needs a non-empty name: { name: "my-stage", http(next) { … } }');
      return;
    }
    if (typeof stage.http !== 'function' && typeof stage.event !== 'function') {
      issues.add(path, `stage "${stage.name}" wraps nothing; give it http(next) and/or event(next)`);
      return;
    }
    stages.push(stage as unknown as Stage);
  });
  return stages;
}
