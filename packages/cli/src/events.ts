/**
 * Realistic events for `sidecarless invoke` and `sidecarless cost`, in the shapes AWS documents
 * for each source (the Lambda developer guide's sample events, field for field) and the
 * CloudEvents 1.0 structured form for Knative. The HTTP ones carry the same request — `POST
 * /orders?source=web` with a small JSON order — so the sources can be compared; `--method`,
 * `--path`, `--header` and `--body` change it.
 */

const region = 'us-east-1';
const account = '123456789012';
const order = '{"sku":"book-42","qty":1}';

/** API Gateway HTTP API, payload format 2.0. */
const apiGwV2 = {
  version: '2.0',
  routeKey: '$default',
  rawPath: '/orders',
  rawQueryString: 'source=web',
  cookies: ['session=opaque-session-id'],
  headers: {
    accept: 'application/json',
    'content-length': String(order.length),
    'content-type': 'application/json',
    host: 'r3pmxmplak.execute-api.us-east-1.amazonaws.com',
    'user-agent': 'curl/8.5.0',
    'x-amzn-trace-id': 'Root=1-67891233-abcdef012345678912345678',
    'x-forwarded-for': '205.255.255.176',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
  },
  queryStringParameters: { source: 'web' },
  requestContext: {
    accountId: account,
    apiId: 'r3pmxmplak',
    domainName: 'r3pmxmplak.execute-api.us-east-1.amazonaws.com',
    domainPrefix: 'r3pmxmplak',
    http: {
      method: 'POST',
      path: '/orders',
      protocol: 'HTTP/1.1',
      sourceIp: '205.255.255.176',
      userAgent: 'curl/8.5.0',
    },
    requestId: 'JKJaXmPLvHcESHA=',
    routeKey: '$default',
    stage: '$default',
    time: '04/Dec/2026:18:03:58 +0000',
    timeEpoch: 1796407438000,
  },
  body: order,
  isBase64Encoded: false,
};

/** API Gateway REST API, proxy integration (payload format 1.0). */
const apiGwV1 = {
  resource: '/orders',
  path: '/orders',
  httpMethod: 'POST',
  headers: {
    Accept: 'application/json',
    'CloudFront-Forwarded-Proto': 'https',
    'CloudFront-Viewer-Country': 'US',
    'Content-Type': 'application/json',
    Host: '70ixmpl4fl.execute-api.us-east-1.amazonaws.com',
    'User-Agent': 'curl/8.5.0',
    Via: '2.0 9f15c8b3a1e7e2e1b6b3c1d0f1a2b3c4.cloudfront.net (CloudFront)',
    'X-Amz-Cf-Id': 'nBsWBOrSHMgnaROZJK1wGCZ9PcRcSpq_oSXZNQwQ10OTZL4cimZo3g==',
    'X-Amzn-Trace-Id': 'Root=1-67891233-abcdef012345678912345678',
    'X-Forwarded-For': '205.255.255.176, 130.176.98.81',
    'X-Forwarded-Port': '443',
    'X-Forwarded-Proto': 'https',
  },
  multiValueHeaders: {
    Accept: ['application/json'],
    'CloudFront-Forwarded-Proto': ['https'],
    'CloudFront-Viewer-Country': ['US'],
    'Content-Type': ['application/json'],
    Host: ['70ixmpl4fl.execute-api.us-east-1.amazonaws.com'],
    'User-Agent': ['curl/8.5.0'],
    Via: ['2.0 9f15c8b3a1e7e2e1b6b3c1d0f1a2b3c4.cloudfront.net (CloudFront)'],
    'X-Amz-Cf-Id': ['nBsWBOrSHMgnaROZJK1wGCZ9PcRcSpq_oSXZNQwQ10OTZL4cimZo3g=='],
    'X-Amzn-Trace-Id': ['Root=1-67891233-abcdef012345678912345678'],
    'X-Forwarded-For': ['205.255.255.176, 130.176.98.81'],
    'X-Forwarded-Port': ['443'],
    'X-Forwarded-Proto': ['https'],
  },
  queryStringParameters: { source: 'web' },
  multiValueQueryStringParameters: { source: ['web'] },
  pathParameters: null,
  stageVariables: null,
  requestContext: {
    resourceId: '2gxmpl',
    resourcePath: '/orders',
    httpMethod: 'POST',
    extendedRequestId: 'JJbxmHc1IAMFuQA=',
    requestTime: '04/Dec/2026:18:03:58 +0000',
    path: '/prod/orders',
    accountId: account,
    protocol: 'HTTP/1.1',
    stage: 'prod',
    domainPrefix: '70ixmpl4fl',
    requestTimeEpoch: 1796407438000,
    requestId: '77375676-xmpl-4b79-853a-f982474efe18',
    identity: { sourceIp: '205.255.255.176', userAgent: 'curl/8.5.0', accountId: null, user: null },
    domainName: '70ixmpl4fl.execute-api.us-east-1.amazonaws.com',
    apiId: '70ixmpl4fl',
  },
  body: order,
  isBase64Encoded: false,
};

/** Application Load Balancer target (single-value headers). */
const alb = {
  requestContext: {
    elb: {
      targetGroupArn: `arn:aws:elasticloadbalancing:${region}:${account}:targetgroup/lambda-279XGJDqGZ5rsrHC2Fjr/49e9d65c45c6791a`,
    },
  },
  httpMethod: 'POST',
  path: '/orders',
  queryStringParameters: { source: 'web' },
  headers: {
    accept: 'application/json',
    connection: 'keep-alive',
    'content-type': 'application/json',
    host: 'lambda-alb-123578498.us-east-1.elb.amazonaws.com',
    'user-agent': 'curl/8.5.0',
    'x-amzn-trace-id': 'Root=1-5c536348-3d683b8b04734faae651f476',
    'x-forwarded-for': '72.12.164.125',
    'x-forwarded-port': '80',
    'x-forwarded-proto': 'http',
  },
  body: order,
  isBase64Encoded: false,
};

/** Lambda function URL (payload format 2.0, IAM auth). */
const functionUrl = {
  version: '2.0',
  routeKey: '$default',
  rawPath: '/orders',
  rawQueryString: 'source=web',
  headers: {
    accept: 'application/json',
    'content-type': 'application/json',
    host: 'a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.lambda-url.us-east-1.on.aws',
    'user-agent': 'curl/8.5.0',
    'x-amzn-trace-id': 'Root=1-5eb33c07-0d8a6a8a4a6f7c0e1a2b3c4d',
    'x-forwarded-for': '123.123.123.123',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
  },
  queryStringParameters: { source: 'web' },
  requestContext: {
    accountId: account,
    apiId: 'a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6',
    authorizer: {
      iam: {
        accessKey: 'AKIAIOSFODNN7EXAMPLE',
        accountId: '111122223333',
        callerId: 'AIDACKCEVSQ6C2EXAMPLE',
        cognitoIdentity: null,
        principalOrgId: null,
        userArn: 'arn:aws:iam::111122223333:user/example-user',
        userId: 'AIDACOSFODNN7EXAMPLE2',
      },
    },
    domainName: 'a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6.lambda-url.us-east-1.on.aws',
    domainPrefix: 'a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6',
    http: {
      method: 'POST',
      path: '/orders',
      protocol: 'HTTP/1.1',
      sourceIp: '123.123.123.123',
      userAgent: 'curl/8.5.0',
    },
    requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
    routeKey: '$default',
    stage: '$default',
    time: '04/Dec/2026:18:03:58 +0000',
    timeEpoch: 1796407438000,
  },
  body: order,
  isBase64Encoded: false,
};

const sqsRecord = (id: string, body: string) => ({
  messageId: id,
  receiptHandle: `AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a${id.slice(0, 8)}...`,
  body,
  attributes: {
    ApproximateReceiveCount: '1',
    SentTimestamp: '1796407438000',
    SenderId: 'AIDAIENQZJOLO23YVJ4VO',
    ApproximateFirstReceiveTimestamp: '1796407438012',
  },
  messageAttributes: {},
  md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
  eventSource: 'aws:sqs',
  eventSourceARN: `arn:aws:sqs:${region}:${account}:orders`,
  awsRegion: region,
});

/** SQS, two messages. */
const sqs = {
  Records: [
    sqsRecord('059f36b4-87a3-44ab-83d2-661975830a7d', order),
    sqsRecord('2e1424d4-f796-459a-8184-9c92662be6da', '{"sku":"pen-7","qty":3}'),
  ],
};

/** SNS, one notification. */
const sns = {
  Records: [
    {
      EventVersion: '1.0',
      EventSubscriptionArn: `arn:aws:sns:${region}:${account}:orders:c9135db0-26c4-47ec-8998-413945fb5a96`,
      EventSource: 'aws:sns',
      Sns: {
        SignatureVersion: '1',
        Timestamp: '2026-12-04T18:03:58.000Z',
        Signature: 'tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==',
        SigningCertUrl: `https://sns.${region}.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem`,
        MessageId: '95df01b4-ee98-5cb9-9903-4c221d41eb5e',
        Message: order,
        MessageAttributes: { source: { Type: 'String', Value: 'web' } },
        Type: 'Notification',
        UnsubscribeUrl: `https://sns.${region}.amazonaws.com/?Action=Unsubscribe&amp;SubscriptionArn=arn:aws:sns:${region}:${account}:orders:c9135db0`,
        TopicArn: `arn:aws:sns:${region}:${account}:orders`,
        Subject: 'order placed',
      },
    },
  ],
};

/** EventBridge, one custom event. */
const eventbridge = {
  version: '0',
  id: '17793124-05d4-b198-2fde-7ededc63b103',
  'detail-type': 'Order Placed',
  source: 'com.example.shop',
  account,
  time: '2026-12-04T18:03:58Z',
  region,
  resources: [],
  detail: { orderId: 'ord_1234', sku: 'book-42', qty: 1 },
};

/** S3, one ObjectCreated:Put notification. */
const s3 = {
  Records: [
    {
      eventVersion: '2.1',
      eventSource: 'aws:s3',
      awsRegion: region,
      eventTime: '2026-12-04T18:03:58.000Z',
      eventName: 'ObjectCreated:Put',
      userIdentity: { principalId: 'EXAMPLE' },
      requestParameters: { sourceIPAddress: '127.0.0.1' },
      responseElements: {
        'x-amz-request-id': 'EXAMPLE123456789',
        'x-amz-id-2': 'EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH',
      },
      s3: {
        s3SchemaVersion: '1.0',
        configurationId: 'testConfigRule',
        bucket: {
          name: 'orders-uploads',
          ownerIdentity: { principalId: 'EXAMPLE' },
          arn: 'arn:aws:s3:::orders-uploads',
        },
        object: {
          key: 'invoices/ord_1234+2026-12.pdf',
          size: 1024,
          eTag: '0123456789abcdef0123456789abcdef',
          sequencer: '0A1B2C3D4E5F678901',
        },
      },
    },
  ],
};

const kinesisRecord = (sequence: string, text: string) => ({
  kinesis: {
    kinesisSchemaVersion: '1.0',
    partitionKey: 'book-42',
    sequenceNumber: sequence,
    data: Buffer.from(text).toString('base64'),
    approximateArrivalTimestamp: 1796407438.1,
  },
  eventSource: 'aws:kinesis',
  eventVersion: '1.0',
  eventID: `shardId-000000000006:${sequence}`,
  eventName: 'aws:kinesis:record',
  invokeIdentityArn: `arn:aws:iam::${account}:role/lambda-role`,
  awsRegion: region,
  eventSourceARN: `arn:aws:kinesis:${region}:${account}:stream/orders`,
});

/** Kinesis Data Streams, two records on one shard. */
const kinesis = {
  Records: [
    kinesisRecord('49590338271490256608559692538361571095921575989136588898', order),
    kinesisRecord('49590338271490256608559692540925702759324208523137515618', '{"sku":"pen-7","qty":3}'),
  ],
};

/** DynamoDB Streams, one INSERT and one MODIFY. */
const dynamodb = {
  Records: [
    {
      eventID: 'c4ca4238a0b923820dcc509a6f75849b',
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: region,
      dynamodb: {
        ApproximateCreationDateTime: 1796407438,
        Keys: { id: { S: 'ord_1234' } },
        NewImage: { id: { S: 'ord_1234' }, sku: { S: 'book-42' }, qty: { N: '1' } },
        SequenceNumber: '4421584500000000017450439091',
        SizeBytes: 41,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN: `arn:aws:dynamodb:${region}:${account}:table/orders/stream/2026-12-04T00:00:00.000`,
    },
    {
      eventID: 'c81e728d9d4c2f636f067f89cc14862c',
      eventName: 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: region,
      dynamodb: {
        ApproximateCreationDateTime: 1796407439,
        Keys: { id: { S: 'ord_1234' } },
        NewImage: { id: { S: 'ord_1234' }, sku: { S: 'book-42' }, qty: { N: '2' } },
        OldImage: { id: { S: 'ord_1234' }, sku: { S: 'book-42' }, qty: { N: '1' } },
        SequenceNumber: '4421584500000000017450439092',
        SizeBytes: 59,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
      eventSourceARN: `arn:aws:dynamodb:${region}:${account}:table/orders/stream/2026-12-04T00:00:00.000`,
    },
  ],
};

/** A CloudEvent (1.0, structured form), as a Knative Broker's Trigger delivers it. */
const cloudevent = {
  specversion: '1.0',
  id: 'b0c5d1e2-3f4a-4b5c-8d6e-7f8091a2b3c4',
  source: '/shop/orders',
  type: 'com.example.order.created',
  subject: 'ord_1234',
  time: '2026-12-04T18:03:58Z',
  datacontenttype: 'application/json',
  data: { orderId: 'ord_1234', sku: 'book-42', qty: 1 },
};

const fixtures = {
  'api-gw-v2': apiGwV2,
  'api-gw-v1': apiGwV1,
  alb,
  'function-url': functionUrl,
  sqs,
  sns,
  eventbridge,
  s3,
  kinesis,
  dynamodb,
  cloudevent,
} as const;

/** The name of a shipped event. */
export type EventName = keyof typeof fixtures;

/** The shipped events' names: `api-gw-v2`, `api-gw-v1`, `alb`, `function-url`, `sqs`, … */
export const eventNames = Object.keys(fixtures) as readonly EventName[];

/**
 * A fresh copy of a shipped event, to change as a test needs.
 *
 * @example
 * ```ts
 * import { readEvent } from '@sidecarless/cli';
 *
 * const event = readEvent('sqs') as { Records: { body: string }[] };
 * console.log(event.Records.length, JSON.parse(event.Records[0]!.body)); // 2 { sku: 'book-42', qty: 1 }
 * ```
 */
export function readEvent(name: EventName): unknown {
  const fixture = fixtures[name];
  if (fixture === undefined)
    throw new TypeError(`unknown event ${JSON.stringify(name)}; use one of ${eventNames.join(', ')}`);
  return structuredClone(fixture);
}

/** Whether `name` is a shipped event's name. */
export function isEventName(name: string): name is EventName {
  return Object.hasOwn(fixtures, name);
}
