/**
 * Producer side of trace propagation on AWS: what a function writes into the messages it sends
 * so the function that receives them continues the trace. The consumers read the same places:
 * `lambda.sqs` and `lambda.sns` a `traceparent` message attribute, `lambda.eventbridge` a
 * `traceparent` in `detail`.
 */
import { type MeshContext, traceContextOf } from '@sidecarless/core';

/** A message attribute as the AWS SDK's SQS `SendMessage` and SNS `Publish` take it. */
export interface StringMessageAttribute {
  DataType: 'String';
  StringValue: string;
}

/**
 * `attributes` plus `traceparent` (and `tracestate`) as `String` message attributes, for
 * SQS `SendMessage`/`SendMessageBatch` and SNS `Publish`: the receiving `lambda.sqs` or
 * `lambda.sns` links its span to this invocation's. Unchanged when tracing is off. SQS allows
 * 10 message attributes: these take one or two.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda, traceAttributes } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'orders' });
 * export const handler = lambda(mesh, async (request, ctx) => {
 *   const message = {
 *     QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/billing',
 *     MessageBody: await request.text(),
 *     MessageAttributes: traceAttributes(ctx),
 *   };
 *   // await sqs.send(new SendMessageCommand(message));
 *   return Response.json({ queued: message.MessageAttributes.traceparent !== undefined });
 * });
 * ```
 */
export function traceAttributes<A extends Record<string, unknown>>(
  ctx: Pick<MeshContext, 'telemetry'>,
  attributes?: A,
): A & { traceparent?: StringMessageAttribute; tracestate?: StringMessageAttribute } {
  const carrier = traceContextOf(ctx);
  const out: Record<string, unknown> = { ...attributes };
  if (carrier?.traceparent) {
    out.traceparent = { DataType: 'String', StringValue: carrier.traceparent };
    if (carrier.tracestate) out.tracestate = { DataType: 'String', StringValue: carrier.tracestate };
  }
  return out as A & { traceparent?: StringMessageAttribute; tracestate?: StringMessageAttribute };
}

/**
 * `detail` plus `traceparent` (and `tracestate`), for an EventBridge `PutEvents` entry's
 * `Detail` (JSON-encode it): the receiving `lambda.eventbridge` makes its span a child of this
 * invocation's. Unchanged when tracing is off.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda, withTraceDetail } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'orders' });
 * export const handler = lambda(mesh, async (_request, ctx) => {
 *   const entry = {
 *     Source: 'shop.orders',
 *     DetailType: 'OrderPlaced',
 *     Detail: JSON.stringify(withTraceDetail(ctx, { orderId: 'o-1' })),
 *   };
 *   // await eventBridge.send(new PutEventsCommand({ Entries: [entry] }));
 *   return Response.json({ sent: entry.DetailType });
 * });
 * ```
 */
export function withTraceDetail<D extends object>(
  ctx: Pick<MeshContext, 'telemetry'>,
  detail: D,
): D & { traceparent?: string; tracestate?: string } {
  const carrier = traceContextOf(ctx);
  if (!carrier?.traceparent) return detail;
  return carrier.tracestate
    ? { ...detail, traceparent: carrier.traceparent, tracestate: carrier.tracestate }
    : { ...detail, traceparent: carrier.traceparent };
}
