/**
 * The options `createMesh` accepts, and their one-time check. The kernel checks its own sections
 * (service, version, logging, invocation, middleware); each registered feature checks its own
 * (features.ts), and a section whose feature is not registered names the import to add.
 */

import type { Duration } from '../duration.js';
import { ConfigError } from '../errors.js';
import { type AnyFeature, type CheckHost, featureSections, inStageOrder } from '../features.js';
import type { Stage } from '../types.js';
import { checkLogging, type LoggingOptions, type NormalizedLogging } from './logging.js';
import { boolean, checkObject, duration, IssueList, isPlainObject, optional, string } from './schema.js';

/**
 * The kernel's options: what `createMesh` accepts with no feature registered. Each registered
 * feature adds its own section (`auth`, `telemetry`, `upstreams`…) to the type `createMesh`
 * checks. Unknown keys are errors, so a typo never silently turns a feature off.
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
  /** The registered features, outermost stage first. */
  readonly features: readonly AnyFeature[];
  /** Headers, cookies and query parameters the features say carry secrets (censored in logs). */
  readonly secrets: { readonly fields: readonly string[]; readonly params: readonly string[] };
  /** A registered feature's checked section (undefined when absent or not registered). */
  section<N>(feature: { readonly name: string; check?(...args: never[]): N | undefined }): N | undefined;
}

/** The kernel's own keys: fixed at `createMesh`, never reconfigured. */
export const kernelKeys = ['service', 'version', 'logging', 'invocation', 'middleware'] as const;

/**
 * Checks `options` once and returns them normalised, or throws a {@link ConfigError} listing
 * every problem with its path and fix. `createMesh` calls it; call it yourself to validate a
 * configuration without creating a mesh (in CI, say).
 *
 * @example
 * ```ts
 * import { ConfigError, normalizeOptions } from '@sidecarless/core';
 * // With features: normalizeOptions(options, [auth, telemetry]).
 *
 * try {
 *   normalizeOptions({ service: 'orders', invocation: { timeout: '2 sec' } });
 * } catch (error) {
 *   if (error instanceof ConfigError) for (const issue of error.issues) console.error(`${issue.path}: ${issue.message}`);
 * }
 * ```
 */
export function normalizeOptions(
  options: unknown,
  features: readonly AnyFeature[] = [],
  env: NodeJS.ProcessEnv = process.env,
): NormalizedOptions {
  const issues = new IssueList();
  const registered = inStageOrder(registeredFeatures(features, issues));
  const sectionKeys = registered.flatMap((feature) =>
    feature.section === undefined ? [] : [feature.section],
  );
  const input =
    checkObject(options ?? {}, '', issues, [...kernelKeys, ...sectionKeys], (key) => missingFeature(key)) ??
    {};

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

  const checkHost: CheckHost = {
    service,
    env,
    feature: (name) => registered.find((feature) => feature.name === name),
  };
  const sections = new Map<string, unknown>();
  const fields: string[] = [];
  const params: string[] = [];
  for (const feature of registered) {
    const key = feature.section;
    const value = key === undefined ? undefined : input[key];
    const checked = feature.check ? feature.check(value, key ?? feature.name, issues, checkHost) : value;
    if (checked === undefined) continue;
    sections.set(feature.name, checked);
    const secrets = feature.secrets?.(checked);
    if (secrets?.fields) fields.push(...secrets.fields);
    if (secrets?.params) params.push(...secrets.params);
  }

  if (issues.issues.length > 0) throw new ConfigError(issues.issues);
  return {
    service: service ?? '',
    version,
    logging: logging!,
    invocation,
    middleware,
    features: registered,
    secrets: { fields, params },
    section: (feature) => sections.get(feature.name) as never,
  };
}

/** The registered features, each once; a second, different feature under one name is an error. */
function registeredFeatures(features: readonly AnyFeature[], issues: IssueList): AnyFeature[] {
  if (!Array.isArray(features)) {
    issues.add('features', 'expected an array of features: createMesh(options, [auth, telemetry])');
    return [];
  }
  const byName = new Map<string, AnyFeature>();
  features.forEach((feature, index) => {
    if (typeof feature?.name !== 'string' || typeof feature.start !== 'function') {
      issues.add(
        `features[${index}]`,
        "is not a feature; pass what a feature package exports, for example import { auth } from '@sidecarless/auth'",
      );
      return;
    }
    const seen = byName.get(feature.name);
    // The same feature twice (or its ESM and CommonJS copies) counts once.
    if (seen === undefined) byName.set(feature.name, feature);
    else if (seen.section !== feature.section)
      issues.add(
        `features[${index}]`,
        `a second feature is named "${feature.name}"; give each feature its own name`,
      );
  });
  return [...byName.values()];
}

/** The message for a section whose feature is not registered, or undefined for an unknown key. */
function missingFeature(key: string): string | undefined {
  const owner = featureSections[key];
  if (owner === undefined) return undefined;
  return `needs the ${owner.feature} feature, which is not registered; add import { ${owner.feature} } from '${owner.from}' and pass it to createMesh: createMesh(options, [${owner.feature}])`;
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
