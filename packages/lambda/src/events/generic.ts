/** `lambda.event`: any other event, handed over untouched. */
import type { ConfigIssue, EventHandler, Mesh, Trigger } from '@sidecarless/core';
import { prepareEvent } from '@sidecarless/core/adapter';
import { checkContext, factsOf, flushWithin } from '../invocation.js';
import { checkWrapperOptions, isWarmupEvent, type LambdaWrapperOptions, throwIssues } from '../options.js';
import type { LambdaContext, LambdaRaw } from '../types.js';

/** Options of `lambda.event`. */
export interface GenericEventOptions extends LambdaWrapperOptions {
  /** What `ctx.trigger` says. Default `'other'`. */
  trigger?: Trigger;
}

/**
 * Wraps a handler for any event (direct invokes, Step Functions, DynamoDB streams, WebSocket
 * APIs…). Its result is Lambda's result; its error is thrown back to Lambda.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'pricing' });
 * export const handler = lambda.event<{ sku: string }, { price: number }>(mesh, async (event) => {
 *   return { price: event.sku.length * 100 };
 * });
 * ```
 */
export function event<Event = unknown, Result = unknown>(
  mesh: Mesh,
  handler: EventHandler<Event, Result, LambdaRaw<Event>>,
  options: GenericEventOptions = {},
): (event: unknown, context: LambdaContext) => Promise<Result | undefined> {
  const issues: ConfigIssue[] = [];
  const common = checkWrapperOptions(mesh, options, 'lambda.event', ['trigger'], issues);
  const trigger = options.trigger ?? 'other';
  throwIssues(issues);
  const run = prepareEvent(mesh, handler);
  return async function sidecarlessEventHandler(incoming, context) {
    checkContext(context);
    if (isWarmupEvent(incoming, common.isWarmup)) return undefined;
    try {
      return (await run(incoming, factsOf(incoming as Event, context, trigger, common.timing))) as Result;
    } finally {
      await flushWithin(mesh, context);
    }
  };
}
