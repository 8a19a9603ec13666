/** What every event-source wrapper shares: checking the batch shape and the bounded flush. */
import { ErrorCodes, type Mesh, SidecarlessError } from '@sidecarless/core';

/** The records of a batch event, or a clear error naming the source that was expected. */
export function recordsOf<R>(
  event: unknown,
  source: string,
  check: (record: unknown) => boolean,
): readonly R[] {
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records) || records.length === 0 || !records.every(check)) {
    throw new SidecarlessError(
      ErrorCodes.badRequest,
      `lambda.${source}(): expected an ${source.toUpperCase()} event with a non-empty Records array of ${source.toUpperCase()} records`,
      { status: 400 },
    );
  }
  return records as R[];
}

/** Logs a refused event once, on the mesh's logger, without its content. */
export function logRefused(mesh: Mesh, requestId: string, error: unknown): void {
  mesh.log.warn({ invocation_id: requestId, reason: (error as Error).message }, 'event refused');
}

type MessageAttributes = Readonly<Record<string, string>>;

/** The last `:`-separated part of an ARN: the queue or topic name. */
function arnName(arn: unknown): string | undefined {
  if (typeof arn !== 'string' || arn === '') return undefined;
  const name = arn.slice(arn.lastIndexOf(':') + 1);
  return name === '' ? undefined : name;
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
