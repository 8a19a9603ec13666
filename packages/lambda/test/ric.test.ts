/**
 * The wrappers inside AWS's own runtime interface client (aws-lambda-ric, the code that runs
 * Node.js functions on Lambda), talking to a Runtime API server this test owns on 127.0.0.1.
 * The handler modules in ric-functions/ load the built packages (dist/), as a deployed function
 * would; `pnpm test` builds them first.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  lambdaEvent,
  type OtlpReceiver,
  OtlpSpanKind,
  type RuntimeApiServer,
  type RuntimeOutcome,
  startOtlpReceiver,
  startRuntimeApi,
} from '@sidecarless/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageRoot = join(import.meta.dirname, '..');
const ricEntry = join(packageRoot, 'node_modules', 'aws-lambda-ric', 'index.mjs');
const taskRoot = join(import.meta.dirname, 'ric-functions');

interface RunningRic {
  readonly api: RuntimeApiServer;
  readonly output: () => string;
  stop(): Promise<void>;
}

async function startRic(
  handler: string,
  nodeFlags: string[] = [],
  extraEnv: Record<string, string> = {},
): Promise<RunningRic> {
  const api = await startRuntimeApi();
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [...nodeFlags, ricEntry], {
    cwd: taskRoot,
    env: {
      PATH: process.env.PATH,
      AWS_LAMBDA_RUNTIME_API: api.address,
      _HANDLER: handler,
      LAMBDA_TASK_ROOT: taskRoot,
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_FUNCTION_NAME: 'sidecarless-test',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/sidecarless-test',
      AWS_LAMBDA_LOG_STREAM_NAME: '2026/11/26/[$LATEST]test',
      AWS_REGION: 'us-east-1',
      TZ: 'UTC',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  return {
    api,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      await api.close();
    },
  };
}

type ProxyResult = {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body: string;
  isBase64Encoded: boolean;
};

function resultOf(outcome: RuntimeOutcome): ProxyResult {
  if (outcome.kind !== 'response') throw new Error(`expected a response, got ${JSON.stringify(outcome)}`);
  return JSON.parse(outcome.body.toString('utf8')) as ProxyResult;
}

function v2Event(path: string, body?: string): Record<string, unknown> {
  const event = lambdaEvent<Record<string, unknown> & { requestContext: { http: Record<string, string> } }>(
    'apigw-http-v2.json',
  );
  const [rawPath, rawQueryString = ''] = path.split('?');
  event.rawPath = rawPath;
  event.rawQueryString = rawQueryString;
  event.requestContext.http.path = rawPath!;
  if (body !== undefined) {
    event.body = body;
    event.requestContext.http.method = 'POST';
  }
  return event;
}

describe('inside aws-lambda-ric: an ESM handler (.mjs)', () => {
  let ric: RunningRic;
  beforeAll(async () => {
    ric = await startRic('esm.handler');
  });
  afterAll(async () => {
    await ric?.stop();
  });

  it('answers an HTTP API event with the request id, deadline, trace id and cookies', async () => {
    const traceId = 'Root=1-6745a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
    const before = Date.now();
    const outcome = await ric.api.invoke({
      event: v2Event('/orders?id=7', '{"qty":1}'),
      requestId: 'ric-req-1',
      traceId,
      timeoutMs: 5_000,
    });
    const result = resultOf(outcome);
    expect(result.statusCode).toBe(200);
    expect(result.cookies).toEqual(['a=1; Path=/', 'b=2; Secure']);
    const body = JSON.parse(result.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      method: 'POST',
      body: '{"qty":1}',
      invocationId: 'ric-req-1',
      coldStart: true,
      trace: traceId,
      arn: 'arn:aws:lambda:us-east-1:123456789012:function:sidecarless-test',
      module: 'esm',
    });
    expect(new URL(body.url as string).pathname + new URL(body.url as string).search).toBe('/orders?id=7');
    expect(body.deadline).toBeGreaterThanOrEqual(before + 5_000 - 50);
    expect(body.deadline).toBeLessThanOrEqual(Date.now() + 5_000);
    // The invocation's log line was written (flushed) before the response was posted.
    expect(ric.output()).toContain('"invocation_id":"ric-req-1"');
  });

  it('reports cold start only for the first invocation', async () => {
    const result = resultOf(await ric.api.invoke({ event: v2Event('/again'), requestId: 'ric-req-2' }));
    expect(JSON.parse(result.body)).toMatchObject({ invocationId: 'ric-req-2', coldStart: false });
  });

  it('turns a handler exception into a 500 without the message', async () => {
    const result = resultOf(await ric.api.invoke({ event: v2Event('/boom') }));
    expect(result.statusCode).toBe(500);
    expect(result.body).not.toContain('hunter2');
    expect(JSON.parse(result.body)).toMatchObject({ code: 'SCL_ERR_INTERNAL' });
  });

  it('posts an unknown event to /error with a message naming what was expected', async () => {
    const outcome = await ric.api.invoke({ event: { hello: 'world' } });
    expect(outcome.kind).toBe('error');
    if (outcome.kind !== 'error') return;
    expect(outcome.body.errorType).toBe('SidecarlessError');
    expect(outcome.body.errorMessage).toMatch(/expected an API Gateway REST/);
  });

  it('survives events that are not objects and answers the next invocation', async () => {
    for (const event of [42, 'text', null, []]) {
      const outcome = await ric.api.invoke({ event });
      expect(outcome.kind).toBe('error');
    }
    const result = resultOf(await ric.api.invoke({ event: v2Event('/after'), requestId: 'after-bad' }));
    expect(JSON.parse(result.body)).toMatchObject({ invocationId: 'after-bad' });
  });

  it('fires ctx.signal the safety margin before the deadline', async () => {
    // 2 s left: the adaptive margin is a tenth, ~200 ms (less the time the event took to arrive).
    const result = resultOf(await ric.api.invoke({ event: v2Event('/slow'), timeoutMs: 2_000 }));
    const body = JSON.parse(result.body) as { aborted: boolean; left: number };
    expect(body.aborted).toBe(true);
    // Fired before the deadline, with most of the margin left (timers may run late on a busy machine).
    expect(body.left).toBeGreaterThan(50);
    expect(body.left).toBeLessThanOrEqual(200);
  });
});

describe('inside aws-lambda-ric: event sources', () => {
  let queue: RunningRic;
  let event: RunningRic;
  beforeAll(async () => {
    [queue, event] = await Promise.all([startRic('esm.queue'), startRic('esm.event')]);
  });
  afterAll(async () => {
    await Promise.all([queue?.stop(), event?.stop()]);
  });

  it('answers SQS with the partial batch failures', async () => {
    const sample = lambdaEvent<{ Records: { messageId: string; body: string }[] }>('sqs.json');
    const records = [...sample.Records, { ...sample.Records[0]!, messageId: 'bad-1', body: 'poison' }];
    const outcome = await queue.api.invoke({ event: { Records: records } });
    expect(outcome.kind).toBe('response');
    if (outcome.kind !== 'response') return;
    expect(JSON.parse(outcome.body.toString())).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad-1' }] });
  });

  it('posts an event handler error to /error so Lambda retries', async () => {
    const outcome = await event.api.invoke({ event: { fail: true } });
    expect(outcome.kind).toBe('error');
    if (outcome.kind !== 'error') return;
    expect(outcome.body.errorType).toBe('TypeError');
    expect(outcome.body.errorMessage).toBe('event handler failed');
    const ok = await event.api.invoke({ event: { fail: false } });
    expect(ok.kind === 'response' && JSON.parse(ok.body.toString())).toEqual({ ok: true });
  });
});

describe('inside aws-lambda-ric: response streaming', () => {
  let ric: RunningRic;
  beforeAll(async () => {
    ric = await startRic('esm.stream');
  });
  afterAll(async () => {
    await ric?.stop();
  });

  function splitPrelude(body: Buffer): { prelude: Record<string, unknown>; payload: Buffer } {
    const delimiter = body.indexOf(Buffer.alloc(8));
    expect(delimiter).toBeGreaterThan(0);
    return {
      prelude: JSON.parse(body.subarray(0, delimiter).toString()) as Record<string, unknown>,
      payload: body.subarray(delimiter + 8),
    };
  }

  it('streams status, headers and cookies first, then the body as it is produced', async () => {
    const outcome = await ric.api.invoke({ event: lambdaEvent('function-url.json') });
    if (outcome.kind !== 'response') throw new Error(JSON.stringify(outcome));
    expect(outcome.streamed).toBe(true);
    expect(outcome.headers['content-type']).toBe('application/vnd.awslambda.http-integration-response');
    const { prelude, payload } = splitPrelude(outcome.body);
    expect(prelude).toEqual({
      statusCode: 201,
      headers: { 'content-type': 'text/plain', 'x-stream': 'yes' },
      cookies: ['s=1'],
    });
    expect(payload.toString()).toBe(`${'0'.repeat(16)}${'1'.repeat(16)}${'2'.repeat(16)}`);
    // Chunks arrived spread over the handler's 20 ms pauses, not in one piece at the end.
    expect(outcome.chunks.length).toBeGreaterThan(1);
    expect(outcome.chunks.at(-1)!.at - outcome.chunks[0]!.at).toBeGreaterThanOrEqual(30);
    expect(outcome.trailers['lambda-runtime-function-error-type']).toBeUndefined();
  });

  it('reports a body that fails mid-stream in the error trailers', async () => {
    const event = lambdaEvent<Record<string, unknown>>('function-url.json');
    event.rawQueryString = 'fail=1';
    const outcome = await ric.api.invoke({ event });
    if (outcome.kind !== 'response') throw new Error(JSON.stringify(outcome));
    expect(outcome.streamed).toBe(true);
    const { payload } = splitPrelude(outcome.body);
    expect(payload.toString()).toBe('0'.repeat(16));
    expect(outcome.trailers['lambda-runtime-function-error-type']).toBe('Error');
    const reported = JSON.parse(
      Buffer.from(outcome.trailers['lambda-runtime-function-error-body'] ?? '', 'base64').toString(),
    ) as { errorMessage?: string };
    expect(reported.errorMessage).toBe('upstream went away');
  });

  it('carries a body larger than the stream buffers intact', async () => {
    const event = lambdaEvent<Record<string, unknown>>('function-url.json');
    event.rawQueryString = 'chunks=40&size=65536';
    const outcome = await ric.api.invoke({ event, timeoutMs: 15_000 });
    if (outcome.kind !== 'response') throw new Error(JSON.stringify(outcome));
    const { payload } = splitPrelude(outcome.body);
    expect(payload.length).toBe(40 * 65_536);
    for (let i = 0; i < 40; i++) expect(payload[i * 65_536]).toBe(48 + (i % 10));
  });
});

describe('inside aws-lambda-ric: a CommonJS handler (.cjs) with require(esm) off', () => {
  let http: RunningRic;
  let queue: RunningRic;
  beforeAll(async () => {
    [http, queue] = await Promise.all([
      startRic('commonjs.handler', ['--no-experimental-require-module']),
      startRic('commonjs.queue', ['--no-experimental-require-module']),
    ]);
  });
  afterAll(async () => {
    await Promise.all([http?.stop(), queue?.stop()]);
  });

  it('answers an ALB event from the CommonJS build', async () => {
    const result = resultOf(await http.api.invoke({ event: lambdaEvent('alb.json'), requestId: 'cjs-1' }));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({ method: 'GET', invocationId: 'cjs-1', module: 'cjs' });
  });

  it('answers SQS from the CommonJS build', async () => {
    const sample = lambdaEvent<{ Records: { messageId: string }[] }>('sqs.json');
    const outcome = await queue.api.invoke({ event: sample });
    expect(outcome.kind === 'response' && JSON.parse(outcome.body.toString())).toEqual({
      batchItemFailures: [],
    });
  });
});

describe('inside aws-lambda-ric: init errors', () => {
  it('reports a wrapper misconfiguration to /init/error', async () => {
    const ric = await startRic('broken.handler');
    try {
      const report = await ric.api.initError;
      expect(report.body.errorType).toBe('ConfigError');
      expect(report.body.errorMessage).toContain('lambda.safetyMargin: "soon" is not a duration');
    } finally {
      await ric.stop();
    }
  });
});

describe('inside aws-lambda-ric: tracing to a real OTLP receiver', () => {
  let ric: RunningRic;
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    ric = await startRic('traced.handler', [], { TEST_OTLP_URL: receiver.url });
  });
  afterAll(async () => {
    await ric?.stop();
    await receiver?.close();
  });

  it('exports exactly one span per invocation, each before its response is posted', async () => {
    const invocations = 1_000;
    const traceId = 'Root=1-6745a1b2-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1';
    const exportedBeforeResponse: string[] = [];
    for (let i = 0; i < invocations; i++) {
      const requestId = `traced-${i}`;
      const outcome = await ric.api.invoke({
        event: v2Event(`/n/${i}`),
        requestId,
        traceId,
        timeoutMs: 5_000,
      });
      expect(resultOf(outcome).statusCode).toBe(200);
      // The Runtime API has the response now; the span must already be at the receiver.
      if (receiver.spans.some((span) => span.attributes['faas.invocation_id'] === requestId))
        exportedBeforeResponse.push(requestId);
    }
    expect(exportedBeforeResponse).toHaveLength(invocations);
    // Nothing arrives late or twice.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ids = receiver.spans.map((span) => span.attributes['faas.invocation_id']);
    expect(ids).toHaveLength(invocations);
    expect(new Set(ids).size).toBe(invocations);
    for (const span of receiver.spans) {
      expect(span.kind).toBe(OtlpSpanKind.server);
      expect(span.parentSpanId).toBe('53995c3f42cd8ad8');
      expect(span.attributes).toMatchObject({
        'faas.name': 'sidecarless-test',
        'cloud.provider': 'aws',
        'cloud.region': 'us-east-1',
      });
    }
  }, 120_000);
});

describe('inside aws-lambda-ric: invocations that time out, traced', () => {
  let receiver: OtlpReceiver;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it("gets a timed-out invocation's span to the collector before the kill, from a cold start", async () => {
    // Lambda kills a timed-out environment and starts a new one: here the Runtime API server has
    // no kill of its own, so each round is a fresh runtime client, killed at the deadline.
    const rounds = 8;
    const timeoutMs = 400;
    const lost: string[] = [];
    for (let i = 0; i < rounds; i++) {
      const ric = await startRic('timeout.handler', [], { TEST_OTLP_URL: receiver.url });
      try {
        const requestId = `timeout-${i}`;
        // Init done (the client polls for its first invocation): the deadline runs from here on.
        for (let waited = 0; ric.api.polls === 0 && waited < 10_000; waited += 10) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const killAt = Date.now() + timeoutMs; // the emulator's deadline is this or later
        void ric.api.invoke({ event: v2Event(`/slow/${i}`), requestId, timeoutMs });
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, killAt - Date.now())));
        const span = receiver.spans.find(
          (received) => received.attributes['faas.invocation_id'] === requestId,
        );
        if (span === undefined) lost.push(requestId);
        else expect(span.status.code, requestId).toBe(2); // ERROR: the deadline cut it
      } finally {
        await ric.stop();
      }
    }
    expect(lost, 'spans not at the collector by the deadline').toEqual([]);
  }, 60_000);
});
