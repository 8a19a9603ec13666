/**
 * What AWS's Node.js runtime gives a handler besides the event: the context object (second
 * argument) and the function's environment variables, with the values a deployed function sees.
 */
import { randomBytes, randomUUID } from 'node:crypto';

/** The Lambda context object, as the Node.js runtime interface client builds it. */
export interface InvokeLambdaContext {
  readonly awsRequestId: string;
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  readonly xRayTraceId: string;
  callbackWaitsForEmptyEventLoop: boolean;
  getRemainingTimeInMillis(): number;
}

/** What the function is: name, memory, timeout, region. */
export interface FunctionFacts {
  readonly functionName: string;
  /** MB, as in the function's configuration. Default 128. */
  readonly memoryMb?: number;
  /** The function's timeout in ms; the deadline of each invocation. Default 3000 (Lambda's). */
  readonly timeoutMs?: number;
  readonly region?: string;
  /** Whether the invocation's X-Ray trace header says sampled (active tracing on). Default false. */
  readonly sampled?: boolean;
}

const account = '123456789012';

/** A log stream name as Lambda writes it: `2026/12/04/[$LATEST]` and 32 hex digits. */
function logStreamName(): string {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
}

/**
 * An X-Ray trace header for one invocation: `Sampled=0` as Lambda sets it when active tracing is
 * off (the default), `Sampled=1` as with active tracing on.
 */
export function xrayTraceHeader(sampled = false): string {
  const epoch = Math.floor(Date.now() / 1000).toString(16);
  return `Root=1-${epoch}-${randomBytes(12).toString('hex')};Parent=${randomBytes(8).toString('hex')};Sampled=${sampled ? 1 : 0};Lineage=1:${randomBytes(4).toString('hex')}:0`;
}

/**
 * A context for one invocation, its deadline `timeoutMs` from now.
 *
 * @example
 * ```ts
 * import { lambdaContext } from '@sidecarless/cli';
 *
 * const context = lambdaContext({ functionName: 'orders', timeoutMs: 6_000 });
 * console.log(context.invokedFunctionArn, context.getRemainingTimeInMillis() <= 6_000);
 * // arn:aws:lambda:us-east-1:123456789012:function:orders true
 * ```
 */
export function lambdaContext(facts: FunctionFacts): InvokeLambdaContext {
  const region = facts.region ?? 'us-east-1';
  const deadline = Date.now() + (facts.timeoutMs ?? 3_000);
  return {
    awsRequestId: randomUUID(),
    functionName: facts.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:${account}:function:${facts.functionName}`,
    memoryLimitInMB: String(facts.memoryMb ?? 128),
    logGroupName: `/aws/lambda/${facts.functionName}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? logStreamName(),
    xRayTraceId: xrayTraceHeader(facts.sampled),
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

/** The environment Lambda sets for a function (what the adapters read to know where they run). */
export function lambdaEnvironment(facts: FunctionFacts): Record<string, string> {
  const region = facts.region ?? 'us-east-1';
  return {
    AWS_LAMBDA_FUNCTION_NAME: facts.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(facts.memoryMb ?? 128),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${facts.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: logStreamName(),
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    LAMBDA_TASK_ROOT: '/var/task',
    LAMBDA_RUNTIME_DIR: '/var/runtime',
    TZ: ':UTC',
  };
}
