/**
 * A Lambda context object for in-process tests of `@sidecarless/lambda`. The real one is made
 * by AWS's runtime interface client, which cannot run inside a unit test; the integration suite
 * (packages/lambda/test/ric.test.ts) runs the same wrappers under the real runtime.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestLambdaContext {
  awsRequestId: string;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  logGroupName: string;
  logStreamName: string;
  xRayTraceId?: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

let counter = 0;

/** A context whose deadline is `remainingMs` from now. */
export function lambdaContext(
  options: { remainingMs?: number; requestId?: string; traceId?: string } = {},
): TestLambdaContext {
  const deadline = Date.now() + (options.remainingMs ?? 3_000);
  const context: TestLambdaContext = {
    awsRequestId: options.requestId ?? `c0ffee00-0000-4000-8000-${String(++counter).padStart(12, '0')}`,
    functionName: 'test-function',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:test-function',
    memoryLimitInMB: '128',
    logGroupName: '/aws/lambda/test-function',
    logStreamName: '2026/11/25/[$LATEST]0123456789abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  if (options.traceId !== undefined) context.xRayTraceId = options.traceId;
  return context;
}

/** Where the repository's own captured Lambda events live. */
export const lambdaEventsDir = join(import.meta.dirname, '..', 'fixtures', 'lambda-events');

/** Reads one captured event from `packages/testing/fixtures/lambda-events`. */
export function lambdaEvent<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(join(lambdaEventsDir, name), 'utf8')) as T;
}
