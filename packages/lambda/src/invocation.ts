/**
 * The facts only Lambda knows, turned into the kernel's `InvocationFacts`, and the bounded
 * flush every wrapper ends with.
 */
import type { Mesh, Trigger } from '@sidecarless/core';
import type { InvocationFacts } from '@sidecarless/core/adapter';
import type { LambdaContext, LambdaRaw } from './types.js';

/** How the wrappers treat time, normalised once per wrapper. */
export interface TimingOptions {
  /** Fixed margin in ms, or undefined for the adaptive default. */
  readonly safetyMarginMs: number | undefined;
  /** The mesh's own `invocation.safetyMargin` (0 when not configured). */
  readonly meshSafetyMarginMs: number;
}

/**
 * The default margin when neither the wrapper nor the mesh names one: a tenth of the time the
 * invocation has, between 50 ms and 500 ms. With Lambda's default 3 s timeout that is 300 ms —
 * time to flush logs and answer before the platform kills the environment mid-write.
 *
 * @example
 * ```ts
 * import { adaptiveSafetyMargin } from '@sidecarless/lambda';
 *
 * adaptiveSafetyMargin(3_000); // 300
 * adaptiveSafetyMargin(60_000); // 500
 * ```
 */
export function adaptiveSafetyMargin(remainingMs: number): number {
  return Math.min(500, Math.max(50, Math.floor(remainingMs / 10)));
}

/** The trace header: the runtime's `xRayTraceId` if it gives one, else `_X_AMZN_TRACE_ID`. */
export function traceHeaderOf(context: LambdaContext): string | undefined {
  return context.xRayTraceId || process.env._X_AMZN_TRACE_ID || undefined;
}

/** Checks the context looks like Lambda's, so a wrong call fails clearly instead of deep inside. */
export function checkContext(context: unknown): asserts context is LambdaContext {
  const candidate = context as Partial<LambdaContext> | null | undefined;
  if (!candidate || typeof candidate.getRemainingTimeInMillis !== 'function') {
    throw new TypeError(
      'expected the Lambda context as the second argument (with getRemainingTimeInMillis); export the wrapped function as the Lambda handler',
    );
  }
}

/** The kernel's facts for one invocation. */
export function factsOf<Event>(
  event: Event,
  context: LambdaContext,
  trigger: Trigger,
  timing: TimingOptions,
): InvocationFacts<LambdaRaw<Event>> {
  const remaining = Math.max(0, context.getRemainingTimeInMillis());
  const raw: LambdaRaw<Event> = { event, context, xrayTraceId: traceHeaderOf(context) };
  const margin =
    timing.safetyMarginMs ??
    (timing.meshSafetyMarginMs > 0 ? timing.meshSafetyMarginMs : adaptiveSafetyMargin(remaining));
  return {
    platform: 'aws-lambda',
    trigger,
    invocationId: context.awsRequestId,
    deadline: Date.now() + remaining,
    safetyMarginMs: margin,
    raw,
  };
}

/**
 * Flushes what the mesh buffered before Lambda freezes the process, never past the time left:
 * 20 ms are kept back for the runtime to post the result.
 */
export function flushWithin(mesh: Mesh, context: LambdaContext): Promise<void> {
  const budget = Math.min(2_000, Math.max(0, context.getRemainingTimeInMillis() - 20));
  return mesh.flush(budget);
}
