/**
 * @sidecarless/lambda — Sidecarless on AWS Lambda.
 *
 * `lambda(mesh, handler)` wraps an HTTP handler for API Gateway (REST and HTTP APIs), Function
 * URLs, ALB and VPC Lattice; `lambda.stream` streams Function URL responses; `lambda.sqs`,
 * `lambda.sns`, `lambda.eventbridge`, `lambda.s3`, `lambda.kinesis`, `lambda.dynamodb`,
 * `lambda.kafka` and `lambda.event` wrap event handlers. Every
 * wrapper fills the context with Lambda's request id, deadline, cold start and trace header,
 * answers warm-up pings without running the handler, and flushes the mesh before returning,
 * bounded by the time left.
 *
 * @packageDocumentation
 */

import { eventbridge } from './events/eventbridge.js';
import { event } from './events/generic.js';
import { s3 } from './events/s3.js';
import { sns } from './events/sns.js';
import { sqs } from './events/sqs.js';
import { dynamodb, kafka, kinesis } from './events/streams.js';
import { httpHandler } from './http/handler.js';
import { stream } from './http/stream.js';

export type { GenericEventOptions } from './events/generic.js';
export type { S3Notification } from './events/s3.js';
export type { SqsOptions } from './events/sqs.js';
export type { StreamOptions } from './events/streams.js';
export type { LambdaHttpOptions, LambdaHttpRaw } from './http/handler.js';
export { type BinaryPredicate, isBinaryByDefault } from './http/response-parts.js';
export type { AwsLambdaStreamingGlobal, LambdaStreamingHandler, LambdaStreamOptions } from './http/stream.js';
export { accountIdOf, adaptiveSafetyMargin, flushAllowance } from './invocation.js';
export type { LambdaWrapperOptions } from './options.js';
export { type StringMessageAttribute, traceAttributes, withTraceDetail } from './trace-propagation.js';
export type * from './types.js';

/** `lambda(mesh, handler)` plus one wrapper per event source. */
export interface LambdaAdapter {
  /** {@inheritDoc httpHandler} */
  (...args: Parameters<typeof httpHandler>): ReturnType<typeof httpHandler>;
  /** Function URL response streaming. */
  readonly stream: typeof stream;
  /** SQS, with partial batch failures. */
  readonly sqs: typeof sqs;
  /** SNS notifications. */
  readonly sns: typeof sns;
  /** EventBridge and Scheduler events. */
  readonly eventbridge: typeof eventbridge;
  /** S3 notifications. */
  readonly s3: typeof s3;
  /** Kinesis Data Streams, in order per shard, with partial batch failures. */
  readonly kinesis: typeof kinesis;
  /** DynamoDB Streams, in order, with partial batch failures. */
  readonly dynamodb: typeof dynamodb;
  /** Kafka (MSK, self-managed), in order per topic-partition, with partial batch failures. */
  readonly kafka: typeof kafka;
  /** Any other event. */
  readonly event: typeof event;
}

/**
 * Wraps a handler for AWS Lambda. Call it at module scope, once per handler; export the result
 * as the function's handler.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'orders' });
 *
 * export const http = lambda(mesh, async (request) => Response.json({ url: request.url }));
 * export const queue = lambda.sqs(mesh, async (record, ctx) => {
 *   ctx.log.info({ id: record.messageId }, 'received');
 * });
 * ```
 */
export const lambda: LambdaAdapter = Object.assign(
  function lambda(...args: Parameters<typeof httpHandler>) {
    return httpHandler(...args);
  },
  { stream, sqs, sns, eventbridge, s3, kinesis, dynamodb, kafka, event },
);
