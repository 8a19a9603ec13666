/**
 * `sidecarless invoke HANDLER_FILE`: one invocation of a handler, locally, through its own
 * adapter, in a fresh Node process — a cold start, as on the platform. Lambda handlers are
 * called with a shipped event (or a JSON file) and a context like the runtime's; OpenFaaS and
 * Knative modules are started on 127.0.0.1 and sent one HTTP request (or a CloudEvent). The
 * response goes to stdout, the mesh's log lines to stderr (as `sam local invoke` does), and the
 * exit code says whether the handler failed.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { parse } from './args.js';
import { eventNames, isEventName, readEvent } from './events.js';
import { type RequestOverride, requestOf, withRequest } from './http-request.js';
import { lambdaEnvironment } from './lambda-context.js';
import { parseLine, prettyPrinter } from './logs.js';
import type { RunResult, RunSpec } from './runner.js';
import { freePort, runInChild } from './spawn-runner.js';
import { type Paint, painter, UsageError } from './terminal.js';

export const invokeUsage = `Usage: sidecarless invoke HANDLER_FILE [--event NAME|FILE.json] [--platform lambda|openfaas|knative]
                          [--export NAME] [--method M] [--path /p?q] [--header 'name: value']…
                          [--body TEXT|@FILE] [--timeout SECONDS] [--sampled] [--logs pretty|raw] [--json]

Runs the handler once, in a fresh Node process, through its adapter: a Lambda export is called
with a realistic event and context; an OpenFaaS or Knative module is started on 127.0.0.1 and
sent one request. Prints the response on stdout and the log lines on stderr. Exits 1 when the
handler failed (threw, answered 5xx, reported failed batch items, timed out).

  --event NAME|FILE   ${eventNames.join(', ')} (default api-gw-v2), or a JSON file
  --platform P        lambda (default), openfaas or knative
  --export NAME       the export to call (default handler); a module that listens by itself needs none
  --method, --path, --header, --body
                      change the HTTP event's request (--body @order.json reads a file)
  --timeout SECONDS   the function's timeout, the invocation's deadline (default 3, Lambda's)
  --sampled           Lambda's trace header says Sampled=1, as with active tracing on (default
                      Sampled=0, as with it off: a mesh that follows it records no spans)
  --logs raw          the log lines as written (default pretty: time, level, message, fields)
  --json              one JSON document (response, logs, timings) instead of text

.ts handlers load with Node's type stripping (on by default from Node 22.18).

Examples:
  sidecarless invoke src/orders.ts --export api
  sidecarless invoke src/orders.ts --export api --method GET --path /orders/42
  sidecarless invoke src/orders.ts --export worker --event sqs
  sidecarless invoke fn/index.mjs --platform openfaas --path /resize --body @cat.png
  sidecarless invoke events.mjs --platform knative --event cloudevent`;

const options = {
  event: { type: 'string' },
  platform: { type: 'string' },
  export: { type: 'string' },
  method: { type: 'string' },
  path: { type: 'string' },
  header: { type: 'string', multiple: true },
  body: { type: 'string' },
  timeout: { type: 'string' },
  sampled: { type: 'boolean' },
  logs: { type: 'string' },
  json: { type: 'boolean' },
} as const;

const platforms = ['lambda', 'openfaas', 'knative'] as const;
type Platform = (typeof platforms)[number];

/** The handler file, checked to exist. */
export function handlerFile(command: string, given: readonly string[]): string {
  if (given.length === 0)
    throw new UsageError(`${command} needs the handler's file; use sidecarless ${command} src/handler.ts`);
  if (given.length > 1)
    throw new UsageError(`${command} takes one handler file, not ${given.length}: ${given.join(' ')}`);
  const file = resolve(given[0]!);
  if (!existsSync(file) || !statSync(file).isFile())
    throw new UsageError(
      `${given[0]}: no such file; give the handler module's path (sidecarless ${command} src/handler.ts)`,
    );
  if (!/^\.[cm]?[jt]s$/.test(extname(file)))
    throw new UsageError(
      `${given[0]}: not a JavaScript or TypeScript module (.js, .mjs, .cjs, .ts, .mts, .cts)`,
    );
  return file;
}

/** The event `--event` names: a shipped one or a JSON file. */
export function eventFrom(given: string | undefined, fallback: string): { name: string; event: unknown } {
  const name = given ?? fallback;
  if (isEventName(name)) return { name, event: readEvent(name) };
  if (!existsSync(name))
    throw new UsageError(
      `--event: "${name}" is neither a shipped event (${eventNames.join(', ')}) nor a JSON file`,
    );
  try {
    return { name, event: JSON.parse(readFileSync(name, 'utf8')) as unknown };
  } catch (error) {
    throw new UsageError(`--event: ${name} is not JSON (${(error as Error).message})`);
  }
}

function headerPairs(given: readonly string[] | undefined): [string, string][] {
  return (given ?? []).map((header) => {
    const at = header.indexOf(':');
    if (at <= 0)
      throw new UsageError(
        `--header: "${header}" is not "name: value"; use --header 'authorization: Bearer …'`,
      );
    return [header.slice(0, at).trim(), header.slice(at + 1).trim()];
  });
}

function bodyFrom(given: string | undefined): string | undefined {
  if (given === undefined || !given.startsWith('@')) return given;
  const path = given.slice(1);
  if (!existsSync(path)) throw new UsageError(`--body: ${path}: no such file`);
  return readFileSync(path, 'utf8');
}

export function timeoutFrom(given: string | undefined): number {
  if (given === undefined) return 3_000;
  const seconds = Number(given);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 900)
    throw new UsageError(
      `--timeout: "${given}" is not a number of seconds between 1 and 900 (Lambda's range); use --timeout 10`,
    );
  return seconds * 1_000;
}

/** The function's name: the handler file's name without its extension (`orders.ts` → `orders`). */
export const functionNameOf = (file: string) => basename(file).replace(/\.[^.]+$/, '') || 'function';

const decode = (base64: string) => Buffer.from(base64, 'base64');

function isText(contentType: string | undefined): boolean {
  return (
    contentType === undefined || /^text\/|json|xml|javascript|x-www-form-urlencoded|yaml/.test(contentType)
  );
}

function bodyText(bytes: Buffer, contentType: string | undefined): string {
  if (bytes.length === 0) return '';
  if (!isText(contentType)) return `<${bytes.length} bytes of ${contentType}>`;
  const text = bytes.toString('utf8');
  if (contentType?.includes('json'))
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      return text;
    }
  return text;
}

function statusLine(status: number, paint: Paint): string {
  const colour = status >= 500 ? 'red' : status >= 400 ? 'yellow' : 'green';
  return paint(colour, paint('bold', `HTTP ${status}`));
}

type ProxyResult = {
  statusCode: number;
  headers?: Record<string, unknown>;
  multiValueHeaders?: Record<string, unknown[]>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
};

const isProxyResult = (value: unknown): value is ProxyResult =>
  value !== null && typeof value === 'object' && typeof (value as ProxyResult).statusCode === 'number';

function failedItems(value: unknown): number {
  const failures = (value as { batchItemFailures?: unknown } | null)?.batchItemFailures;
  return Array.isArray(failures) ? failures.length : 0;
}

function httpText(status: number, headers: [string, string][], body: Buffer, paint: Paint): string {
  const contentType = headers.find(([name]) => name.toLowerCase() === 'content-type')?.[1];
  const lines = [
    statusLine(status, paint),
    ...headers.map(([name, value]) => `${paint('dim', `${name}:`)} ${value}`),
  ];
  const text = bodyText(body, contentType);
  return `${lines.join('\n')}\n${text === '' ? '' : `\n${text}\n`}`;
}

function lambdaResultText(result: unknown, paint: Paint): string {
  if (!isProxyResult(result)) return `${JSON.stringify(result, null, 2)}\n`;
  const headers: [string, string][] = [];
  for (const [name, value] of Object.entries(result.headers ?? {})) headers.push([name, String(value)]);
  for (const [name, values] of Object.entries(result.multiValueHeaders ?? {}))
    if (!Object.hasOwn(result.headers ?? {}, name))
      for (const value of values) headers.push([name, String(value)]);
  for (const cookie of result.cookies ?? []) headers.push(['set-cookie', cookie]);
  const body = Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8');
  return httpText(result.statusCode, headers, body, paint);
}

/** Why the invocation counts as failed, or `undefined` when it did not fail. */
function failure(result: RunResult): string | undefined {
  if (result.outcome === 'failed' || result.outcome === 'init-failed') {
    const missing = /^Cannot find package '([^']+)'/.exec(result.error?.message ?? '');
    const fix = missing ? `; install it (npm install ${missing[1]})` : '';
    return `${result.error?.type ?? 'Error'}: ${result.error?.message ?? 'unknown error'}${fix}`;
  }
  const status = isProxyResult(result.result) ? result.result.statusCode : result.response?.status;
  if (status !== undefined && status >= 500) return `answered HTTP ${status}`;
  const failed = failedItems(result.result);
  if (failed > 0) return `${failed} record${failed === 1 ? '' : 's'} reported in batchItemFailures`;
  return undefined;
}

/** `sidecarless invoke`. */
export async function invoke(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parse('invoke', argv, options);
  const file = handlerFile('invoke', positionals);
  const platform = (values.platform ?? 'lambda') as Platform;
  if (!platforms.includes(platform))
    throw new UsageError(`--platform: "${values.platform}" is not one of lambda, openfaas, knative`);
  const logs = values.logs ?? 'pretty';
  if (logs !== 'pretty' && logs !== 'raw') throw new UsageError(`--logs: "${logs}" is not pretty or raw`);
  const override: RequestOverride = {
    method: values.method,
    path: values.path,
    headers: headerPairs(values.header),
    body: bodyFrom(values.body),
  };
  const { name: eventName, event: given } = eventFrom(values.event, 'api-gw-v2');
  const event = withRequest(given, override);
  const timeoutMs = timeoutFrom(values.timeout);
  const functionName = functionNameOf(file);
  const spec: RunSpec = {
    file,
    exportName: values.export ?? 'handler',
    exportGiven: values.export !== undefined,
    platform,
    loadWith: 'import',
    functionName,
    timeoutMs,
    sampled: values.sampled === true,
    ...(platform === 'lambda' ? { event } : {}),
  };
  const env: NodeJS.ProcessEnv = { ...process.env };
  let httpSpec = spec;
  if (platform === 'lambda') {
    for (const [name, value] of Object.entries(lambdaEnvironment({ functionName, timeoutMs })))
      env[name] ??= value;
  } else {
    const request = requestOf(event);
    if (request === undefined)
      throw new UsageError(
        `--event ${eventName} is not an HTTP request; --platform ${platform} takes api-gw-v2, api-gw-v1, alb, function-url${platform === 'knative' ? ', cloudevent' : ''} or a JSON file of one`,
      );
    const port = await freePort();
    if (platform === 'openfaas') {
      env.http_port = String(port);
      env.exec_timeout ??= `${timeoutMs / 1000}s`;
      env.OPENFAAS_NAME ??= functionName;
    } else {
      env.PORT = String(port);
      env.K_SERVICE ??= functionName;
      env.K_REVISION ??= `${functionName}-00001`;
      env.K_CONFIGURATION ??= functionName;
    }
    httpSpec = {
      ...spec,
      port,
      request: { ...request, body: request.body.toString('base64') },
    };
  }
  const json = values.json === true;
  const errPaint = painter(process.stderr);
  const outPaint = painter(process.stdout);
  const pretty = prettyPrinter(errPaint);
  const show = (stream: 'stdout' | 'stderr', text: string) => {
    if (json) return;
    process.stderr.write(`${logs === 'raw' || stream === 'stderr' ? text : pretty(text)}\n`);
  };
  // Lambda stops the function at its timeout; the HTTP platforms get 5 s more to start listening.
  const killAfterMs = timeoutMs + (platform === 'lambda' ? 1_000 : 5_000);
  const outcome = await runInChild(httpSpec, { env, killAfterMs, onLine: show });
  const result: RunResult =
    outcome.result ??
    (outcome.timedOut
      ? {
          outcome: 'failed',
          error: {
            type: 'Timeout',
            message: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
          },
        }
      : {
          outcome: 'failed',
          error: {
            type: 'Exit',
            message: `the handler's process exited (${outcome.signal ?? `code ${outcome.exitCode}`}) before answering`,
          },
        });
  if (result.outcome === 'usage') {
    if (json)
      process.stdout.write(`${JSON.stringify({ ok: false, error: result.error?.message }, null, 2)}\n`);
    throw new UsageError(result.error?.message ?? 'usage error');
  }
  const why = failure(result);
  if (json) {
    const document = {
      ok: why === undefined,
      platform,
      event: eventName,
      export: spec.exportName,
      ...(result.result !== undefined ? { result: result.result } : {}),
      ...(result.response !== undefined
        ? {
            response: {
              status: result.response.status,
              headers: result.response.headers,
              body: decode(result.response.body).toString('utf8'),
            },
          }
        : {}),
      ...(result.error !== undefined ? { error: result.error } : {}),
      ...(why !== undefined ? { failure: why } : {}),
      loadedMs: result.loadedMs,
      loadMs: result.loadMs,
      invokeMs: result.invokeMs,
      logs: outcome.lines.map((line) => parseLine(line.text) ?? line.text),
    };
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
    return why === undefined ? 0 : 1;
  }
  if (result.result !== undefined) process.stdout.write(lambdaResultText(result.result, outPaint));
  if (result.response !== undefined)
    process.stdout.write(
      httpText(result.response.status, result.response.headers, decode(result.response.body), outPaint),
    );
  const timing = [
    result.invokeMs === undefined ? undefined : `${result.invokeMs.toFixed(1)} ms`,
    result.loadedMs === undefined
      ? undefined
      : `module loaded ${Math.round(result.loadedMs)} ms after the process started`,
  ]
    .filter(Boolean)
    .join('; ');
  const who = `${platform} ${platform === 'lambda' || spec.exportGiven ? `"${spec.exportName}" in ` : ''}${basename(file)}`;
  if (why === undefined) {
    process.stderr.write(`${errPaint('green', '✓')} ${who} answered${timing ? ` (${timing})` : ''}\n`);
    return 0;
  }
  const stage = result.outcome === 'init-failed' ? ' at init' : '';
  process.stderr.write(
    `${errPaint('red', '✗')} ${who} failed${stage}: ${why}${timing ? ` (${timing})` : ''}\n`,
  );
  const stack = result.error?.stack;
  if (stack !== undefined && result.error?.code !== 'ERR_MODULE_NOT_FOUND')
    process.stderr.write(`${errPaint('dim', stack.split('\n').slice(1).join('\n'))}\n`);
  return 1;
}
