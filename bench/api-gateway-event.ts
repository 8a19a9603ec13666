/**
 * The invocation the per-invocation benches share (`lambda-overhead`, `rate-limits`): an API
 * Gateway v2 event as Lambda delivers it, and a Lambda context.
 */
/** An API Gateway HTTP API (payload 2.0) event: a POST with a JSON body. */
export const apiGatewayV2Event = {
  version: '2.0',
  routeKey: 'POST /orders',
  rawPath: '/orders',
  rawQueryString: 'expand=items',
  headers: {
    accept: 'application/json',
    'content-type': 'application/json',
    'content-length': '21',
    host: 'abc123.execute-api.us-east-1.amazonaws.com',
    'user-agent': 'bench/1.0',
    'x-amzn-trace-id': 'Root=1-6745a1b2-0123456789abcdef01234567',
    'x-forwarded-for': '203.0.113.7',
    'x-forwarded-port': '443',
    'x-forwarded-proto': 'https',
  },
  queryStringParameters: { expand: 'items' },
  requestContext: {
    accountId: '123456789012',
    apiId: 'abc123',
    domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
    domainPrefix: 'abc123',
    http: {
      method: 'POST',
      path: '/orders',
      protocol: 'HTTP/1.1',
      sourceIp: '203.0.113.7',
      userAgent: 'bench/1.0',
    },
    requestId: 'bench-request',
    routeKey: 'POST /orders',
    stage: '$default',
    time: '26/Nov/2026:00:00:00 +0000',
    timeEpoch: 1_795_651_200_000,
  },
  body: '{"sku":"A-1","qty":2}',
  isBase64Encoded: false,
};

const deadline = Date.now() + 3_600_000;
/** A Lambda context whose deadline is an hour away. */
export const lambdaContext = {
  awsRequestId: 'bench-request',
  functionName: 'bench',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench',
  callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => deadline - Date.now(),
};
