/**
 * SQS: one handler call per message; failures are reported in `batchItemFailures` so only the
 * failed messages come back (turn on `ReportBatchItemFailures` on the event source mapping).
 *
 * FIFO queues keep order within a message group: the group's messages run one after another,
 * and after a failure the rest of that group is reported failed without running, so no later
 * message overtakes the one that failed. Other groups go on.
 */
import type { ConfigIssue, EventHandler, Mesh } from '@sidecarless/core';
import { traceContextOf } from '@sidecarless/core';
import { prepareEvent } from '@sidecarless/core/adapter';
import { checkContext, factsOf, flushWithin, forMessage, messageCarrier } from '../invocation.js';
import { checkWrapperOptions, isWarmupEvent, type LambdaWrapperOptions, throwIssues } from '../options.js';
import type { LambdaContext, LambdaRaw, SqsBatchResponse, SqsEvent, SqsRecord } from '../types.js';
import { batchAttributes, batchRunner, eachLimited, logRefused, recordsOf, sqsAttributes } from './shared.js';

/**
 * Options of `lambda.sqs`.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * export const handler = lambda.sqs(createMesh({ service: 'mail' }), async () => {}, { concurrency: 8 });
 * ```
 */
export interface SqsOptions extends LambdaWrapperOptions {
  /**
   * How many messages run at once. Default 1. For FIFO queues this bounds how many message
   * groups run at once; a group's messages always run in order.
   */
  concurrency?: number;
}

function isSqsRecord(record: unknown): boolean {
  const candidate = record as Partial<SqsRecord> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.messageId === 'string' &&
    typeof candidate.body === 'string'
  );
}

function isFifo(record: SqsRecord): boolean {
  return record.eventSourceARN?.endsWith('.fifo') === true || record.attributes?.MessageGroupId !== undefined;
}

/**
 * Wraps a per-message SQS handler. Returns `{ batchItemFailures }` listing the messages whose
 * handler threw (or that were not run because their FIFO group had failed, or time ran out).
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'billing' });
 * export const handler = lambda.sqs(
 *   mesh,
 *   async (record, ctx) => {
 *     const order = JSON.parse(record.body) as { id: string };
 *     ctx.log.info({ order: order.id }, 'charging');
 *   },
 *   { concurrency: 4 },
 * );
 * ```
 */
export function sqs(
  mesh: Mesh,
  recordHandler: EventHandler<SqsRecord, unknown, LambdaRaw<SqsEvent>>,
  options: SqsOptions = {},
): (event: unknown, context: LambdaContext) => Promise<SqsBatchResponse | undefined> {
  const issues: ConfigIssue[] = [];
  const common = checkWrapperOptions(mesh, options, 'lambda.sqs', ['concurrency'], issues);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    issues.push({
      path: 'lambda.sqs.concurrency',
      message: 'must be a whole number of at least 1, for example 4',
    });
  }
  throwIssues(issues);
  const run = prepareEvent(mesh, recordHandler);
  const runBatch = batchRunner(mesh);

  return async function sidecarlessSqsHandler(event, context) {
    checkContext(context);
    if (isWarmupEvent(event, common.isWarmup)) return undefined;
    try {
      let records: readonly SqsRecord[];
      try {
        records = recordsOf<SqsRecord>(event, 'sqs', isSqsRecord);
      } catch (error) {
        logRefused(mesh, context.awsRequestId, error);
        throw error;
      }
      const firstAttributes = sqsAttributes(records[0]!);
      const facts = factsOf(event as SqsEvent, context, 'pubsub', common.timing, {
        attributes: batchAttributes(firstAttributes, records.length),
      });
      return await runBatch(async (batch) => {
        const failed = new Set<string>();
        const parent = traceContextOf(batch);
        // Stop starting messages once the safety margin is reached: what did not run is reported
        // failed and comes back, instead of being cut off mid-way when Lambda ends the invocation.
        const stopAt = (facts.deadline ?? 0) - (facts.safetyMarginMs ?? 0);
        const runOne = async (record: SqsRecord): Promise<boolean> => {
          if (Date.now() >= stopAt) {
            failed.add(record.messageId);
            return false;
          }
          try {
            // One CONSUMER span per message, a child of the batch's, linked to the context the
            // message was sent in.
            const carrier = messageCarrier(record.messageAttributes, record.attributes?.AWSTraceHeader);
            const attributes = sqsAttributes(record);
            await run(record, forMessage(facts, carrier, attributes, { parent }));
            return true;
          } catch {
            // Logged once by the pipeline.
            failed.add(record.messageId);
            return false;
          }
        };

        const first = records[0]!;
        if (isFifo(first)) {
          const groups = new Map<string, SqsRecord[]>();
          for (const record of records) {
            const group = record.attributes?.MessageGroupId ?? '';
            const list = groups.get(group);
            if (list) list.push(record);
            else groups.set(group, [record]);
          }
          await eachLimited([...groups.values()], concurrency, async (group) => {
            let broken = false;
            for (const record of group) {
              if (broken) failed.add(record.messageId);
              else if (!(await runOne(record))) broken = true;
            }
          });
        } else {
          await eachLimited(records, concurrency, async (record) => {
            await runOne(record);
          });
        }
        // In the order Lambda gave them, as the docs show.
        const batchItemFailures = records
          .filter((record) => failed.has(record.messageId))
          .map((record) => ({ itemIdentifier: record.messageId }));
        return { batchItemFailures };
      }, facts);
    } finally {
      await flushWithin(mesh, context);
    }
  };
}
