/** The wrapper options shared by every Lambda wrapper, checked once when wrapping. */
import { ConfigError, type ConfigIssue, type Duration, type Mesh, parseDuration } from '@sidecarless/core';
import { PlatformFacts, type TimingOptions } from './invocation.js';

/**
 * Options every Lambda wrapper takes.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * export const handler = lambda.event(createMesh({ service: 'jobs' }), async () => 'done', {
 *   safetyMargin: '400ms',
 *   isWarmup: (event) => (event as { warmer?: boolean }).warmer === true,
 * });
 * ```
 */
export interface LambdaWrapperOptions {
  /**
   * How long before Lambda's deadline `ctx.signal` fires. Default: the mesh's
   * `invocation.safetyMargin` when set, else a tenth of the invocation's remaining time between
   * 50 ms and 500 ms (leaves room to flush and answer before Lambda kills the environment).
   */
  safetyMargin?: Duration;
  /**
   * Recognises warm-up pings, which are answered without running the handler. Events with
   * `source: 'serverless-plugin-warmup'` are always recognised.
   */
  isWarmup?: (event: unknown) => boolean;
}

/** What the wrappers keep after checking. */
export interface CheckedWrapperOptions {
  readonly timing: TimingOptions;
  readonly isWarmup: ((event: unknown) => boolean) | undefined;
}

const wrapperKeys = ['safetyMargin', 'isWarmup'];

/** Checks `options` once; throws a `ConfigError` naming every bad field. */
export function checkWrapperOptions(
  mesh: Mesh,
  options: object | undefined,
  where: string,
  extraKeys: readonly string[],
  issues: ConfigIssue[],
): CheckedWrapperOptions {
  const given = (options ?? {}) as Record<string, unknown> & LambdaWrapperOptions;
  if (typeof given !== 'object' || given === null) {
    issues.push({ path: where, message: 'options must be an object' });
  }
  const known = [...wrapperKeys, ...extraKeys];
  for (const key of Object.keys(given)) {
    if (!known.includes(key))
      issues.push({
        path: `${where}.${key}`,
        message: `unknown option; expected one of ${known.join(', ')}`,
      });
  }
  let safetyMarginMs: number | undefined;
  if (given.safetyMargin !== undefined) {
    safetyMarginMs = parseDuration(given.safetyMargin);
    if (safetyMarginMs === undefined) {
      issues.push({
        path: `${where}.safetyMargin`,
        message: `${JSON.stringify(given.safetyMargin)} is not a duration; use "300ms" or 300`,
      });
    }
  }
  if (given.isWarmup !== undefined && typeof given.isWarmup !== 'function') {
    issues.push({ path: `${where}.isWarmup`, message: 'must be a function (event) => boolean' });
  }
  return {
    timing: {
      safetyMarginMs,
      meshSafetyMarginMs: mesh.options.invocation.safetyMarginMs,
      platform: new PlatformFacts(),
    },
    isWarmup: given.isWarmup,
  };
}

/** Throws the collected issues, if any. */
export function throwIssues(issues: readonly ConfigIssue[]): void {
  if (issues.length > 0) throw new ConfigError(issues);
}

/** True for a warm-up ping: the serverless-plugin-warmup shape or the user's predicate. */
export function isWarmupEvent(event: unknown, predicate: ((event: unknown) => boolean) | undefined): boolean {
  if (
    typeof event === 'object' &&
    event !== null &&
    (event as { source?: unknown }).source === 'serverless-plugin-warmup'
  ) {
    return true;
  }
  return predicate !== undefined && predicate(event) === true;
}
