/** EventBridge (and EventBridge Scheduler): `detail` parsed when it arrives as a JSON string. */
import {
  type ConfigIssue,
  ErrorCodes,
  type EventHandler,
  type Mesh,
  SidecarlessError,
} from '@sidecarless/core';
import { prepareEvent } from '@sidecarless/core/adapter';
import { checkContext, factsOf, flushWithin, withParent } from '../invocation.js';
import { checkWrapperOptions, isWarmupEvent, type LambdaWrapperOptions, throwIssues } from '../options.js';
import type { EventBridgeEvent, LambdaContext, LambdaRaw } from '../types.js';
import { logRefused } from './shared.js';

function badEventBridge(reason: string): SidecarlessError {
  return new SidecarlessError(ErrorCodes.badRequest, `lambda.eventbridge(): ${reason}`, { status: 400 });
}

function toEvent(event: unknown): EventBridgeEvent {
  const candidate = event as Partial<EventBridgeEvent> | null;
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate['detail-type'] !== 'string' ||
    typeof candidate.source !== 'string' ||
    !('detail' in candidate)
  ) {
    throw badEventBridge('expected an EventBridge event with source, detail-type and detail');
  }
  if (typeof candidate.detail !== 'string') return candidate as EventBridgeEvent;
  let detail: unknown;
  try {
    detail = JSON.parse(candidate.detail);
  } catch {
    throw badEventBridge('detail is a string that is not JSON');
  }
  return { ...(candidate as EventBridgeEvent), detail };
}

/**
 * The W3C trace context a producer put in `detail` (`withTraceDetail`); EventBridge itself
 * carries none but the X-Ray header.
 */
function detailTraceparent(detail: unknown): { traceparent: string; tracestate?: string } | undefined {
  if (typeof detail !== 'object' || detail === null) return undefined;
  const { traceparent, tracestate } = detail as { traceparent?: unknown; tracestate?: unknown };
  if (typeof traceparent !== 'string' || traceparent === '') return undefined;
  return typeof tracestate === 'string' && tracestate !== '' ? { traceparent, tracestate } : { traceparent };
}

/**
 * Wraps an EventBridge rule or Scheduler target. The handler's error is thrown back to Lambda,
 * so EventBridge's retry policy and dead-letter queue apply.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'reports' });
 * export const handler = lambda.eventbridge<{ reportId: string }>(mesh, async (event, ctx) => {
 *   ctx.log.info({ report: event.detail.reportId, type: event['detail-type'] }, 'building');
 * });
 * ```
 */
export function eventbridge<Detail = unknown>(
  mesh: Mesh,
  handler: EventHandler<EventBridgeEvent<Detail>, unknown, LambdaRaw<EventBridgeEvent>>,
  options: LambdaWrapperOptions = {},
): (event: unknown, context: LambdaContext) => Promise<unknown> {
  const issues: ConfigIssue[] = [];
  const common = checkWrapperOptions(mesh, options, 'lambda.eventbridge', [], issues);
  throwIssues(issues);
  const run = prepareEvent(mesh, handler);
  return async function sidecarlessEventBridgeHandler(event, context) {
    checkContext(context);
    if (isWarmupEvent(event, common.isWarmup)) return undefined;
    try {
      let parsed: EventBridgeEvent;
      try {
        parsed = toEvent(event);
      } catch (error) {
        logRefused(mesh, context.awsRequestId, error);
        throw error;
      }
      const trigger =
        parsed.source === 'aws.scheduler' || parsed['detail-type'] === 'Scheduled Event' ? 'timer' : 'pubsub';
      const facts = factsOf(event as EventBridgeEvent, context, trigger, common.timing);
      return await run(parsed, withParent(facts, detailTraceparent(parsed.detail)));
    } finally {
      await flushWithin(mesh, context);
    }
  };
}
