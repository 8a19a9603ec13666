/** SNS: one handler call per notification (SNS delivers one per invocation). */
import type { ConfigIssue, EventHandler, Mesh } from '@sidecarless/core';
import { prepareEvent } from '@sidecarless/core/adapter';
import { checkContext, factsOf, flushWithin, forMessage, messageCarrier } from '../invocation.js';
import { checkWrapperOptions, isWarmupEvent, type LambdaWrapperOptions, throwIssues } from '../options.js';
import type { LambdaContext, LambdaRaw, SnsEvent, SnsRecord } from '../types.js';
import { logRefused, recordsOf, snsAttributes } from './shared.js';

function isSnsRecord(record: unknown): boolean {
  const sns = (record as Partial<SnsRecord> | null)?.Sns;
  return typeof sns === 'object' && sns !== null && typeof sns.Message === 'string';
}

/**
 * Wraps an SNS notification handler. A handler error is thrown back to Lambda, so SNS retries
 * and then uses the subscription's dead-letter queue.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'notifier' });
 * export const handler = lambda.sns(mesh, async (notification, ctx) => {
 *   ctx.log.info({ subject: notification.Subject }, notification.Message);
 * });
 * ```
 */
export function sns(
  mesh: Mesh,
  handler: EventHandler<SnsRecord['Sns'], unknown, LambdaRaw<SnsEvent>>,
  options: LambdaWrapperOptions = {},
): (event: unknown, context: LambdaContext) => Promise<void> {
  const issues: ConfigIssue[] = [];
  const common = checkWrapperOptions(mesh, options, 'lambda.sns', [], issues);
  throwIssues(issues);
  const run = prepareEvent(mesh, handler);
  return async function sidecarlessSnsHandler(event, context) {
    checkContext(context);
    if (isWarmupEvent(event, common.isWarmup)) return;
    try {
      let records: readonly SnsRecord[];
      try {
        records = recordsOf<SnsRecord>(event, 'sns', isSnsRecord);
      } catch (error) {
        logRefused(mesh, context.awsRequestId, error);
        throw error;
      }
      const facts = factsOf(event as SnsEvent, context, 'pubsub', common.timing);
      for (const record of records) {
        const carrier = messageCarrier(record.Sns.MessageAttributes, undefined);
        await run(record.Sns, forMessage(facts, carrier, snsAttributes(record.Sns)));
      }
    } finally {
      await flushWithin(mesh, context);
    }
  };
}
