/**
 * The AWS Lambda shapes this package reads and writes. We own them (no `@types/aws-lambda` at
 * runtime or in our published types) and describe only the fields we use; every field of an
 * incoming event is optional or nullable because events are input we do not trust.
 */

/**
 * The Lambda context object the Node.js runtime passes as the handler's second argument.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * export const handler = lambda.event(createMesh({ service: 'arn' }), async (_event, ctx) => {
 *   return { arn: ctx.raw.context.invokedFunctionArn, left: ctx.raw.context.getRemainingTimeInMillis() };
 * });
 * ```
 */
export interface LambdaContext {
  readonly awsRequestId: string;
  readonly functionName?: string;
  readonly functionVersion?: string;
  readonly invokedFunctionArn?: string;
  readonly memoryLimitInMB?: string;
  readonly logGroupName?: string;
  readonly logStreamName?: string;
  /** The X-Ray trace header of this invocation, on runtimes that set it. */
  readonly xRayTraceId?: string;
  callbackWaitsForEmptyEventLoop?: boolean;
  getRemainingTimeInMillis(): number;
}

/**
 * What `ctx.raw` holds under `@sidecarless/lambda`.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * export const handler = lambda(createMesh({ service: 'trace' }), async (_request, ctx) => {
 *   ctx.log.info({ trace: ctx.raw.xrayTraceId }, 'traced');
 *   return new Response(null, { status: 204 });
 * });
 * ```
 */
export interface LambdaRaw<Event = unknown> {
  /** The event exactly as Lambda delivered it. */
  readonly event: Event;
  /** The Lambda context object. */
  readonly context: LambdaContext;
  /**
   * The X-Ray trace header (`Root=1-…;Parent=…;Sampled=…`) of this invocation: the runtime's
   * `xRayTraceId`, else `_X_AMZN_TRACE_ID`. Kept for tracing to continue the trace.
   */
  readonly xrayTraceId: string | undefined;
}

type Maybe<T> = T | null | undefined;

/** API Gateway REST API (payload 1.0), also ALB and the WebSocket API share its outline. */
export interface ApiGatewayProxyEventV1 {
  readonly resource?: string;
  readonly path?: string;
  readonly httpMethod?: string;
  readonly headers?: Maybe<Record<string, string | undefined>>;
  readonly multiValueHeaders?: Maybe<Record<string, string[] | undefined>>;
  readonly queryStringParameters?: Maybe<Record<string, string | undefined>>;
  readonly multiValueQueryStringParameters?: Maybe<Record<string, string[] | undefined>>;
  readonly pathParameters?: Maybe<Record<string, string | undefined>>;
  readonly stageVariables?: Maybe<Record<string, string | undefined>>;
  readonly requestContext?: {
    readonly requestId?: string;
    readonly stage?: string;
    readonly path?: string;
    readonly domainName?: string;
    readonly httpMethod?: string;
    readonly connectionId?: string;
    readonly eventType?: string;
    readonly [key: string]: unknown;
  };
  readonly body?: Maybe<string>;
  readonly isBase64Encoded?: boolean;
}

/** API Gateway HTTP API (payload 2.0) and Lambda Function URLs. */
export interface ApiGatewayProxyEventV2 {
  readonly version: '2.0';
  readonly routeKey?: string;
  readonly rawPath: string;
  readonly rawQueryString?: string;
  readonly cookies?: Maybe<string[]>;
  readonly headers?: Maybe<Record<string, string | undefined>>;
  readonly queryStringParameters?: Maybe<Record<string, string | undefined>>;
  readonly pathParameters?: Maybe<Record<string, string | undefined>>;
  readonly stageVariables?: Maybe<Record<string, string | undefined>>;
  readonly requestContext: {
    readonly requestId?: string;
    readonly domainName?: string;
    readonly stage?: string;
    readonly http: { readonly method: string; readonly path?: string; readonly sourceIp?: string };
    readonly [key: string]: unknown;
  };
  readonly body?: Maybe<string>;
  readonly isBase64Encoded?: boolean;
}

/** An Application Load Balancer target event (single- or multi-value headers mode). */
export interface AlbEvent {
  readonly requestContext: { readonly elb: { readonly targetGroupArn?: string } };
  readonly httpMethod: string;
  readonly path: string;
  readonly headers?: Maybe<Record<string, string | undefined>>;
  readonly multiValueHeaders?: Maybe<Record<string, string[] | undefined>>;
  readonly queryStringParameters?: Maybe<Record<string, string | undefined>>;
  readonly multiValueQueryStringParameters?: Maybe<Record<string, string[] | undefined>>;
  readonly body?: Maybe<string>;
  readonly isBase64Encoded?: boolean;
}

/** A VPC Lattice event, payload version 2.0. */
export interface VpcLatticeEventV2 {
  readonly version: '2.0';
  readonly path: string;
  readonly method: string;
  readonly headers?: Maybe<Record<string, string[] | undefined>>;
  readonly queryStringParameters?: Maybe<Record<string, string[] | undefined>>;
  readonly body?: Maybe<string>;
  readonly isBase64Encoded?: boolean;
  readonly requestContext: {
    readonly serviceNetworkArn?: string;
    readonly serviceArn?: string;
    readonly targetGroupArn?: string;
    readonly region?: string;
    readonly timeEpoch?: string;
    readonly identity?: Record<string, unknown>;
  };
}

/** Any HTTP-shaped event `lambda(mesh, handler)` accepts. */
export type LambdaHttpEvent = ApiGatewayProxyEventV1 | ApiGatewayProxyEventV2 | AlbEvent | VpcLatticeEventV2;

/** The result for API Gateway v1, ALB and VPC Lattice. */
export interface LambdaProxyResult {
  statusCode: number;
  statusDescription?: string;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  body: string;
  isBase64Encoded: boolean;
}

/** The result for API Gateway v2 and Function URLs. */
export interface LambdaProxyResultV2 {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body: string;
  isBase64Encoded: boolean;
}

/** Whatever `lambda(mesh, handler)` returns to the runtime. */
export type LambdaHttpResult = LambdaProxyResult | LambdaProxyResultV2;

/** One SQS message. */
export interface SqsRecord {
  readonly messageId: string;
  readonly receiptHandle?: string;
  readonly body: string;
  readonly attributes?: {
    readonly MessageGroupId?: string;
    readonly MessageDeduplicationId?: string;
    readonly ApproximateReceiveCount?: string;
    readonly SentTimestamp?: string;
    readonly [key: string]: string | undefined;
  };
  readonly messageAttributes?: Record<string, unknown>;
  readonly md5OfBody?: string;
  readonly eventSource?: string;
  readonly eventSourceARN?: string;
  readonly awsRegion?: string;
}

/** An SQS event. */
export interface SqsEvent {
  readonly Records: readonly SqsRecord[];
}

/** What an SQS handler returns so only the failed messages are redelivered. */
export interface SqsBatchResponse {
  batchItemFailures: { itemIdentifier: string }[];
}

/** One Kinesis Data Streams record (`data` is base64). */
export interface KinesisStreamRecord {
  readonly kinesis: {
    readonly kinesisSchemaVersion?: string;
    readonly partitionKey: string;
    readonly sequenceNumber: string;
    /** The record's bytes, base64-encoded: `Buffer.from(record.kinesis.data, 'base64')`. */
    readonly data: string;
    readonly approximateArrivalTimestamp?: number;
  };
  readonly eventSource?: string;
  readonly eventVersion?: string;
  /** `shardId-000000000006:<sequence number>`. */
  readonly eventID?: string;
  readonly eventName?: string;
  readonly invokeIdentityArn?: string;
  readonly awsRegion?: string;
  readonly eventSourceARN?: string;
}

/** A Kinesis Data Streams event. */
export interface KinesisStreamEvent {
  readonly Records: readonly KinesisStreamRecord[];
}

/** One DynamoDB Streams record. */
export interface DynamoDbStreamRecord {
  readonly eventID?: string;
  readonly eventName?: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventVersion?: string;
  readonly eventSource?: string;
  readonly awsRegion?: string;
  readonly dynamodb: {
    readonly ApproximateCreationDateTime?: number;
    readonly Keys?: Record<string, unknown>;
    readonly NewImage?: Record<string, unknown>;
    readonly OldImage?: Record<string, unknown>;
    readonly SequenceNumber: string;
    readonly SizeBytes?: number;
    readonly StreamViewType?: string;
  };
  /** `arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>`. */
  readonly eventSourceARN?: string;
}

/** A DynamoDB Streams event. */
export interface DynamoDbStreamEvent {
  readonly Records: readonly DynamoDbStreamRecord[];
}

/** One Kafka record (MSK or self-managed): `key` and `value` are base64, header values byte arrays. */
export interface KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp?: number;
  readonly timestampType?: string;
  readonly key?: string | null;
  readonly value?: string | null;
  readonly headers?: readonly Readonly<Record<string, readonly number[]>>[];
}

/** A Kafka event: records grouped by `"<topic>-<partition>"`. */
export interface KafkaEvent {
  readonly eventSource?: 'aws:kafka' | 'SelfManagedKafka' | string;
  readonly eventSourceArn?: string;
  readonly bootstrapServers?: string;
  readonly records: Readonly<Record<string, readonly KafkaRecord[]>>;
}

/**
 * What a stream handler returns: the records to retry. Kinesis and DynamoDB identify a record by
 * its sequence number; Kafka by `{ partition: "<topic>-<partition>", offset }`.
 */
export interface StreamBatchResponse<Identifier = string> {
  batchItemFailures: { itemIdentifier: Identifier }[];
}

/** One SNS notification. */
export interface SnsRecord {
  readonly EventSource?: string;
  readonly EventSubscriptionArn?: string;
  readonly Sns: {
    readonly MessageId: string;
    readonly Message: string;
    readonly Subject?: string | null;
    readonly TopicArn?: string;
    readonly Timestamp?: string;
    readonly Type?: string;
    readonly MessageAttributes?: Record<string, { readonly Type: string; readonly Value: string }>;
    readonly [key: string]: unknown;
  };
}

/** An SNS event. */
export interface SnsEvent {
  readonly Records: readonly SnsRecord[];
}

/** An EventBridge event; `detail` is parsed when it arrives as a JSON string. */
export interface EventBridgeEvent<Detail = unknown> {
  readonly version?: string;
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account?: string;
  readonly time?: string;
  readonly region?: string;
  readonly resources?: readonly string[];
  readonly detail: Detail;
  readonly 'replay-name'?: string;
}

/** One S3 notification record. */
export interface S3Record {
  readonly eventVersion?: string;
  readonly eventSource?: string;
  readonly awsRegion?: string;
  readonly eventTime?: string;
  readonly eventName: string;
  readonly s3: {
    readonly bucket: { readonly name: string; readonly arn?: string };
    /** `key` is URL-encoded by S3 (spaces as `+`); `decodedKey` is added by us. */
    readonly object: { readonly key: string; readonly size?: number; readonly eTag?: string };
  };
}

/** An S3 event. */
export interface S3Event {
  readonly Records: readonly S3Record[];
}

/** The handler signature Lambda's Node.js runtime calls. */
export type LambdaHandler<Event, Result> = (event: Event, context: LambdaContext) => Promise<Result>;
