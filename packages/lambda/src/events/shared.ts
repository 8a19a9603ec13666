/** What every event-source wrapper shares: checking the batch shape and the bounded flush. */
import { ErrorCodes, type Mesh, type MeshContext, SidecarlessError } from '@sidecarless/core';
import { type InvocationFacts, prepareEvent } from '@sidecarless/core/adapter';

/** The refusal of a batch event that is not the source's shape, naming what was expected. */
export function notABatch(source: string, expected: string): SidecarlessError {
  return new SidecarlessError(ErrorCodes.badRequest, `lambda.${source}(): expected ${expected}`, {
    status: 400,
  });
}

const sourceNames: Readonly<Record<string, readonly [article: string, name: string]>> = {
  sqs: ['an', 'SQS'],
  sns: ['an', 'SNS'],
  s3: ['an', 'S3'],
  kinesis: ['a', 'Kinesis'],
  dynamodb: ['a', 'DynamoDB Streams'],
};

/** The records of a batch event, or a clear error naming the source that was expected. */
export function recordsOf<R>(
  event: unknown,
  source: string,
  check: (record: unknown) => boolean,
): readonly R[] {
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records) || records.length === 0 || !records.every(check)) {
    const [article, name] = sourceNames[source] ?? ['an', source.toUpperCase()];
    throw notABatch(source, `${article} ${name} event with a non-empty Records array of ${name} records`);
  }
  return records as R[];
}

/** Logs a refused event once, on the mesh's logger, without its content. */
export function logRefused(mesh: Mesh, requestId: string, error: unknown): void {
  mesh.log.warn({ invocation_id: requestId, reason: (error as Error).message }, 'event refused');
}

type MessageAttributes = Readonly<Record<string, string>>;

/** The last part of an ARN after `separator`: a queue or topic name (`:`), a stream name (`/`). */
export function arnName(arn: unknown, separator = ':'): string | undefined {
  if (typeof arn !== 'string' || arn === '') return undefined;
  const name = arn.slice(arn.lastIndexOf(separator) + 1);
  return name === '' || name.includes(':') ? undefined : name;
}

/** Runs `work` over `lanes` with at most `limit` in flight. */
export async function eachLimited<T>(
  lanes: readonly T[],
  limit: number,
  work: (lane: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runners: Promise<void>[] = [];
  const runner = async () => {
    while (next < lanes.length) {
      const lane = lanes[next++]!;
      await work(lane);
    }
  };
  for (let i = 0; i < Math.min(limit, lanes.length); i++) runners.push(runner());
  await Promise.all(runners);
}

function messagingAttributes(
  system: string,
  destination: string | undefined,
  messageId: unknown,
): MessageAttributes {
  const attributes: Record<string, string> = {
    'messaging.system': system,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
  };
  if (destination !== undefined) attributes['messaging.destination.name'] = destination;
  if (typeof messageId === 'string' && messageId !== '') attributes['messaging.message.id'] = messageId;
  return attributes;
}

/** One SQS message's span attributes, as the messaging conventions for AWS SQS name them. */
export function sqsAttributes(record: { messageId?: unknown; eventSourceARN?: unknown }): MessageAttributes {
  return messagingAttributes('aws_sqs', arnName(record.eventSourceARN), record.messageId);
}

/** One SNS notification's span attributes (`aws.sns`, the topic as the destination). */
export function snsAttributes(notification: { MessageId?: unknown; TopicArn?: unknown }): MessageAttributes {
  return messagingAttributes('aws.sns', arnName(notification.TopicArn), notification.MessageId);
}

/**
 * Runs one batch invocation as a whole — one invocation span (named after the function, as the
 * Lambda conventions name it) and one set of invocation metrics around `work`, which runs each
 * record through its own pipeline (`forMessage` facts). User middleware and policy stages run
 * per record, not around the batch.
 */
export function batchRunner(
  mesh: Mesh,
): <R>(work: (batch: MeshContext) => Promise<R>, facts: InvocationFacts) => Promise<R> {
  const run = prepareEvent(
    mesh,
    (work: (batch: MeshContext) => Promise<unknown>, batch: MeshContext) => work(batch),
    { batch: true },
  );
  return <R>(work: (batch: MeshContext) => Promise<R>, facts: InvocationFacts) =>
    run(work, facts) as Promise<R>;
}

/** The batch span's attributes: the records' system and destination, and how many there are. */
export function batchAttributes(
  first: Readonly<Record<string, string | number | boolean>>,
  count: number,
): Readonly<Record<string, string | number | boolean>> {
  const attributes: Record<string, string | number | boolean> = { 'messaging.batch.message_count': count };
  for (const name of [
    'messaging.system',
    'messaging.operation.type',
    'messaging.operation.name',
    'messaging.destination.name',
  ]) {
    const value = first[name];
    if (value !== undefined) attributes[name] = value;
  }
  return attributes;
}
