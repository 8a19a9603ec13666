/**
 * `sidecarless invoke` as a user runs it, on handlers written for these tests (test/handlers): a
 * Lambda function with JWT auth (a real JWKS server), tracing to a real OTLP receiver and EMF
 * metrics; an OpenFaaS function that listens by itself; a Knative CloudEvents sink exported
 * without listening. Each invocation is a fresh Node process started by the built command.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createSigningKey,
  type JwksServer,
  nowSeconds,
  type OtlpReceiver,
  startJwksServer,
  startOtlpReceiver,
} from '@sidecarless/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handlerPath, sidecarless } from './run-cli.js';

const key = createSigningKey('ES256');
let jwks: JwksServer;
let collector: OtlpReceiver;
let env: NodeJS.ProcessEnv;
const work = mkdtempSync(join(tmpdir(), 'sidecarless-invoke-test-'));

beforeAll(async () => {
  jwks = await startJwksServer([key.jwk]);
  collector = await startOtlpReceiver();
  env = { JWKS_URI: jwks.url, OTLP_TRACES_ENDPOINT: collector.url };
});
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await jwks.close();
  await collector.close();
});

const orders = handlerPath('orders-lambda.ts');
const token = (scope: string) =>
  key.sign({ iss: 'https://id.shop.test', aud: 'orders', sub: 'alice', scope, exp: nowSeconds() + 300 });

describe('sidecarless invoke, Lambda', () => {
  it('runs the .ts handler through the adapter with the API Gateway v2 event, prints the response and the pretty log lines', async () => {
    const { code, stdout, stderr } = await sidecarless(
      ['invoke', orders, '--header', `authorization: Bearer ${await token('orders:write')}`],
      env,
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^HTTP 201\ncontent-type: application\/json\n\n\{\n {2}"sku": "book-42",\n {2}"user": "alice"\n\}\n$/,
    );
    expect(stderr).toMatch(/^── orders · aws-lambda · invocation [0-9a-f-]{36} · cold start$/m);
    expect(stderr).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}order accepted {2}.*sku=book-42 user=alice/m);
    // The EMF line of the invocation, as a metric line.
    expect(stderr).toMatch(
      /^ +METRIC serverless_function_invocations_total=1 .*serverless_function_cold_starts_total=1/m,
    );
    expect(stderr).toMatch(
      /✓ lambda "handler" in orders-lambda\.ts answered \(\d+\.\d ms; module loaded \d+ ms after the process started\)\n$/,
    );
    expect(stderr).not.toContain('Bearer');
  });

  it('gives tools one JSON document: the result, the parsed log lines, the timings — and the span reached the collector', async () => {
    const { code, stdout } = await sidecarless(
      // --sampled: Lambda's trace header says Sampled=1, as with active tracing on.
      [
        'invoke',
        orders,
        '--json',
        '--sampled',
        '--header',
        `authorization: Bearer ${await token('orders:write')}`,
      ],
      env,
    );
    expect(code).toBe(0);
    const document = JSON.parse(stdout) as {
      ok: boolean;
      result: { statusCode: number; body: string };
      logs: { msg?: string; trace_id?: string; invocation_id?: string }[];
      loadedMs: number;
      invokeMs: number;
    };
    expect(document.ok).toBe(true);
    expect(document.result.statusCode).toBe(201);
    expect(JSON.parse(document.result.body)).toEqual({ sku: 'book-42', user: 'alice' });
    expect(document.loadedMs).toBeGreaterThan(0);
    expect(document.invokeMs).toBeGreaterThan(0);
    const line = document.logs.find((entry) => entry.msg === 'order accepted');
    expect(line?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    // Lambda flushes before it returns: the span was exported before the process exited.
    expect(collector.spans.map((span) => span.traceId)).toContain(line!.trace_id);
  });

  it('answers 401 with the challenge for a request without a token, and 403 for a token without the scope (exit 0: the handler did not fail)', async () => {
    const anonymous = await sidecarless(['invoke', orders, '--event', 'api-gw-v1'], env);
    expect(anonymous.code).toBe(0);
    expect(anonymous.stdout).toMatch(/^HTTP 401\n/);
    expect(anonymous.stdout).toMatch(/^www-authenticate: Bearer/im);
    const reader = await sidecarless(
      ['invoke', orders, '--event', 'alb', '--header', `Authorization: Bearer ${await token('orders:read')}`],
      env,
    );
    expect(reader.code).toBe(0);
    expect(reader.stdout).toMatch(/^HTTP 403\n/);
  });

  it('changes the request with --method, --path and --body; GET drops the fixture’s body', async () => {
    const { code, stdout } = await sidecarless(
      [
        'invoke',
        orders,
        '--event',
        'function-url',
        '--method',
        'GET',
        '--path',
        '/orders/42?expand=items',
        '--header',
        `authorization: Bearer ${await token('orders:write')}`,
      ],
      env,
    );
    // The policy admits POST /orders only.
    expect(code).toBe(0);
    expect(stdout).toMatch(/^HTTP 403\n/);
  });

  it('passes a context like the runtime’s, and the function’s environment', async () => {
    const { code, stdout } = await sidecarless(
      ['invoke', orders, '--export', 'context', '--event', 'eventbridge', '--timeout', '10', '--json'],
      env,
    );
    expect(code).toBe(0);
    const { result } = JSON.parse(stdout) as { result: Record<string, unknown> };
    expect(result.awsRequestId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(result.functionName).toBe('orders-lambda');
    expect(result.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:123456789012:function:orders-lambda');
    expect(result.memoryLimitInMB).toBe('128');
    expect(result.remaining).toBeGreaterThan(8_000);
    expect(result.remaining).toBeLessThanOrEqual(10_000);
    expect(result.xray).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0/);
    expect(result.region).toBe('us-east-1');
  });

  it('exits 1 and names the failed record when an SQS record fails', async () => {
    const { code, stdout, stderr } = await sidecarless(
      ['invoke', orders, '--export', 'worker', '--event', 'sqs'],
      env,
    );
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual({
      batchItemFailures: [{ itemIdentifier: '2e1424d4-f796-459a-8184-9c92662be6da' }],
    });
    expect(stderr).toMatch(/INFO {2}order fulfilled {2}sku=book-42/);
    expect(stderr).toMatch(/ERROR handler threw .*\n +Error: pen-7 is out of stock\n/);
    expect(stderr).toMatch(
      /✗ lambda "worker" in orders-lambda\.ts failed: 1 record reported in batchItemFailures/,
    );
  });

  it('exits 1 on a 500 from a handler that threw, and on a function that rejects, with its error', async () => {
    const broken = await sidecarless(
      [
        'invoke',
        orders,
        '--export',
        'broken',
        '--header',
        `authorization: Bearer ${await token('orders:write')}`,
      ],
      env,
    );
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^HTTP 500\n/);
    // The error's stack under its log line, not a JSON blob.
    expect(broken.stderr).toMatch(
      /ERROR handler threw.*\n +Error: the database is on fire\n +at .*orders-lambda\.ts/,
    );
    expect(broken.stderr).toContain('failed: answered HTTP 500');
    const thrown = await sidecarless(['invoke', orders, '--export', 'thrown'], env);
    expect(thrown.code).toBe(1);
    expect(thrown.stdout).toBe('');
    expect(thrown.stderr).toMatch(
      /✗ lambda "thrown" in orders-lambda\.ts failed: TypeError: not wrapped, and it throws/,
    );
    expect(thrown.stderr).toMatch(/at thrown \(.*orders-lambda\.ts/);
  });

  it('prints the log lines as written with --logs raw', async () => {
    const { stderr } = await sidecarless(
      ['invoke', orders, '--export', 'worker', '--event', 'sqs', '--logs', 'raw'],
      env,
    );
    const lines = stderr.split('\n').filter((line) => line.startsWith('{'));
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(lines.map((line) => (JSON.parse(line) as { msg?: string }).msg)).toContain('order fulfilled');
  });
});

describe('sidecarless invoke, OpenFaaS and Knative', () => {
  it('starts an OpenFaaS module that listens by itself on http_port and sends it one request', async () => {
    const { code, stdout, stderr } = await sidecarless([
      'invoke',
      handlerPath('payments-openfaas.mjs'),
      '--platform',
      'openfaas',
      '--path',
      '/charges',
      '--header',
      'X-Call-Id: call-7',
      '--body',
      '{"amountCents":1250}',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^HTTP 200\n/);
    const body = JSON.parse(stdout.slice(stdout.indexOf('\n\n'))) as {
      charged: number;
      id: string;
      msLeft: number;
    };
    expect(body).toMatchObject({ charged: 1250, id: 'call-7' });
    // exec_timeout is the function's timeout: 3 s by default.
    expect(body.msLeft).toBeGreaterThan(2_000);
    expect(body.msLeft).toBeLessThanOrEqual(3_000);
    expect(stderr).toMatch(/── payments · openfaas · invocation call-7 · cold start/);
    expect(stderr).toMatch(/INFO {2}charge made {2}amount=1250 path=\/charges/);
    expect(stderr).toMatch(/✓ openfaas payments-openfaas\.mjs answered/);
  });

  it('binds an exported Knative CloudEvents server on PORT, sends the CloudEvent in binary mode, and prints the reply event', async () => {
    const { code, stdout, stderr } = await sidecarless([
      'invoke',
      handlerPath('inventory-knative.mjs'),
      '--platform',
      'knative',
      '--event',
      'cloudevent',
    ]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^HTTP 200\n/);
    expect(stdout).toMatch(/^ce-type: com\.example\.stock\.reserved$/m);
    expect(stdout).toMatch(/^ce-id: b0c5d1e2-3f4a-4b5c-8d6e-7f8091a2b3c4-reserved$/m);
    expect(JSON.parse(stdout.slice(stdout.indexOf('\n\n')))).toEqual({
      orderId: 'ord_1234',
      revision: 'inventory-knative-00001',
    });
    expect(stderr).toMatch(/INFO {2}stock reserved {2}type=com\.example\.order\.created order=ord_1234/);
  });

  it('refuses an event that is not an HTTP request for the HTTP platforms', async () => {
    const { code, stderr } = await sidecarless([
      'invoke',
      handlerPath('inventory-knative.mjs'),
      '--platform',
      'knative',
      '--event',
      'sqs',
    ]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      'sidecarless: --event sqs is not an HTTP request; --platform knative takes api-gw-v2, api-gw-v1, alb, function-url, cloudevent or a JSON file of one\n',
    );
  });
});

describe('sidecarless invoke, user mistakes', () => {
  it.each([
    [['invoke'], "sidecarless: invoke needs the handler's file; use sidecarless invoke src/handler.ts\n"],
    [
      ['invoke', 'src/nope.ts'],
      "sidecarless: src/nope.ts: no such file; give the handler module's path (sidecarless invoke src/handler.ts)\n",
    ],
    [
      ['invoke', orders, '--evnt', 'sqs'],
      "sidecarless: Unknown option '--evnt'. To specify a positional argument starting with a '-', place it at the end of the command after '--', as in '-- \"--evnt\"; see sidecarless invoke --help\n",
    ],
    [
      ['invoke', orders, '--event', 'kafka'],
      'sidecarless: --event: "kafka" is neither a shipped event (api-gw-v2, api-gw-v1, alb, function-url, sqs, sns, eventbridge, s3, kinesis, dynamodb, cloudevent) nor a JSON file\n',
    ],
    [
      ['invoke', orders, '--platform', 'azure'],
      'sidecarless: --platform: "azure" is not one of lambda, openfaas, knative\n',
    ],
    [
      ['invoke', orders, '--export', 'api'],
      'sidecarless: orders-lambda.ts does not export "api"; it exports broken, context, handler, settings, thrown, worker — use --export broken\n',
    ],
    [
      ['invoke', orders, '--export', 'settings'],
      'sidecarless: "settings" in orders-lambda.ts is an object, not a function; export the wrapped handler (export const settings = lambda(mesh, fn))\n',
    ],
    [
      ['invoke', orders, '--event', 'sqs', '--path', '/x'],
      'sidecarless: --method, --path, --header and --body change an HTTP event; use --event api-gw-v2, api-gw-v1, alb or function-url\n',
    ],
    [
      ['invoke', orders, '--header', 'authorization'],
      'sidecarless: --header: "authorization" is not "name: value"; use --header \'authorization: Bearer …\'\n',
    ],
  ])('%j: one line naming the fix, exit 2', async (args, message) => {
    const { code, stdout, stderr } = await sidecarless(args, env);
    expect(stderr).toBe(message);
    expect(code).toBe(2);
    expect(stdout).toBe('');
  });

  it('--help shows the options and examples', async () => {
    const { code, stdout } = await sidecarless(['invoke', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--event NAME|FILE');
    expect(stdout).toContain('Examples:\n  sidecarless invoke src/orders.ts --export api\n');
  });
});

describe('sidecarless invoke, failures', () => {
  const failing = handlerPath('failing-lambda.mjs');

  it('stops a handler at its timeout, as Lambda does, and exits 1', async () => {
    const started = Date.now();
    const { code, stderr } = await sidecarless(['invoke', failing, '--export', 'slow', '--timeout', '1']);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /✗ lambda "slow" in failing-lambda\.mjs failed: Timeout: Task timed out after 1\.00 seconds\n$/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports an error thrown at init with its stack, and a missing package in one line', async () => {
    const init = await sidecarless(['invoke', failing, '--export', 'slow'], { FAIL_AT_INIT: '1' });
    expect(init.code).toBe(1);
    expect(init.stderr).toMatch(
      /✗ lambda "slow" in failing-lambda\.mjs failed at init: Error: DATABASE_URL is not set/,
    );
    expect(init.stderr).toMatch(/at .*failing-lambda\.mjs:2/);
    const missing = await sidecarless(['invoke', failing, '--export', 'slow'], { FAIL_AT_INIT: 'import' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /failed at init: Error: Cannot find package 'a-package-that-is-not-installed' imported from .*failing-lambda\.mjs; install it \(npm install a-package-that-is-not-installed\)\n$/,
    );
  });

  it('keeps a plain console.log line as it is, and names the error type of a rejected invocation', async () => {
    const { code, stdout, stderr } = await sidecarless(['invoke', failing, '--export', 'logsThenThrows']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^starting [0-9a-f-]{36}$/m);
    expect(stderr).toMatch(/failed: PaymentError: payment declined/);
  });

  it('calls a callback-style handler with a callback', async () => {
    const { code, stdout } = await sidecarless([
      'invoke',
      failing,
      '--export',
      'callback',
      '--event',
      'kinesis',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({ records: 2 });
  });
});

describe('sidecarless invoke and events, your own events', () => {
  it('prints a shipped event to start from, and invokes with an edited copy of it', async () => {
    const listed = await sidecarless(['events']);
    expect(listed.stdout.split('\n').filter(Boolean)).toEqual([
      'api-gw-v2',
      'api-gw-v1',
      'alb',
      'function-url',
      'sqs',
      'sns',
      'eventbridge',
      's3',
      'kinesis',
      'dynamodb',
      'cloudevent',
    ]);
    const printed = await sidecarless(['events', 'sqs']);
    const event = JSON.parse(printed.stdout) as { Records: { messageId: string; body: string }[] };
    // Keep only the record that fails, under a new id.
    const poison = join(work, 'poison.json');
    writeFileSync(poison, JSON.stringify({ Records: [{ ...event.Records[1]!, messageId: 'poison-1' }] }));
    const { code, stdout } = await sidecarless(
      ['invoke', orders, '--export', 'worker', '--event', poison],
      env,
    );
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toEqual({ batchItemFailures: [{ itemIdentifier: 'poison-1' }] });
    const unknown = await sidecarless(['events', 'kafka']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /^sidecarless: events: "kafka" is not one event name; use one of api-gw-v2, /,
    );
  });

  it('reads --body @file, and refuses an event file that is not JSON', async () => {
    const body = join(work, 'order.json');
    writeFileSync(body, '{"sku":"lamp-3","qty":2}');
    const { code, stdout } = await sidecarless(
      [
        'invoke',
        orders,
        '--body',
        `@${body}`,
        '--header',
        `authorization: Bearer ${await token('orders:write')}`,
      ],
      env,
    );
    expect(code).toBe(0);
    expect(stdout).toContain('"sku": "lamp-3"');
    const broken = join(work, 'broken.json');
    writeFileSync(broken, '{ "Records": [');
    const refused = await sidecarless(['invoke', orders, '--event', broken], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^sidecarless: --event: .*broken\.json is not JSON \(.*\)\n$/);
  });
});
