/**
 * The process a handler runs in for `sidecarless invoke` and `sidecarless cost`: a fresh Node, as
 * on the platform. It loads the handler module, makes one invocation through the module's own
 * adapter, writes what happened as one JSON line to file descriptor 3 and exits. The handler's
 * stdout and stderr (the mesh's log lines) stay the handler's: the parent reads them as logs.
 *
 * Kept small on purpose — it is loaded before the handler in every measured process, so its
 * own cost is the same for the bare handler and the measured one.
 */
import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { lambdaContext } from './lambda-context.js';

/** What the parent asks for (argv[2], JSON). */
export interface RunSpec {
  readonly file: string;
  readonly exportName: string;
  /** Whether `--export` was given (else a module that listens by itself needs no export). */
  readonly exportGiven: boolean;
  readonly platform: 'lambda' | 'openfaas' | 'knative';
  readonly loadWith: 'import' | 'require';
  /** Load only (the per-package probes of `cost`). */
  readonly loadOnly?: boolean;
  readonly event?: unknown;
  readonly request?: { method: string; path: string; headers: [string, string][]; body: string };
  readonly port?: number;
  readonly functionName: string;
  readonly timeoutMs: number;
  /** The X-Ray header says Sampled=1 (active tracing on). */
  readonly sampled?: boolean;
}

/** What happened (one JSON line on fd 3). */
export interface RunResult {
  /** `performance.now()` once the module is loaded: ms since the process started. */
  readonly loadedMs?: number;
  /** The module's own load: the `require()` or `import()` call alone, in ms. */
  readonly loadMs?: number;
  /** The invocation, from the call to its result (HTTP: request sent to body received). */
  readonly invokeMs?: number;
  readonly outcome: 'ok' | 'failed' | 'init-failed' | 'usage';
  readonly result?: unknown;
  readonly response?: { status: number; headers: [string, string][]; body: string };
  readonly error?: { type: string; message: string; stack?: string | undefined; code?: string | undefined };
}

// Set once the module is loaded; every report carries it.
let loadMs: number | undefined;

// Microseconds are as fine as a fresh process's timings mean anything.
const rounded = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 1000) / 1000);

function report(result: RunResult): never {
  const timed = {
    ...result,
    loadedMs: rounded(result.loadedMs),
    loadMs: rounded(loadMs),
    invokeMs: rounded(result.invokeMs),
  };
  writeSync(3, `${JSON.stringify(timed)}\n`);
  process.exit(0);
}

function describe(error: unknown): NonNullable<RunResult['error']> {
  if (error instanceof Error)
    return {
      type: error.name,
      message: error.message,
      stack: error.stack,
      code:
        typeof (error as { code?: unknown }).code === 'string'
          ? String((error as { code?: unknown }).code)
          : undefined,
    };
  return { type: typeof error, message: String(error) };
}

function exportList(module: Record<string, unknown>): string[] {
  return Object.keys(module).filter((name) => name !== 'default' && name !== 'module.exports');
}

function usage(message: string): never {
  report({ outcome: 'usage', error: { type: 'UsageError', message } });
}

type LambdaFunction = (
  event: unknown,
  context: unknown,
  callback?: (error: unknown, value: unknown) => void,
) => unknown;

async function invokeLambda(spec: RunSpec, fn: LambdaFunction, loadedMs: number): Promise<never> {
  const context = lambdaContext({
    functionName: spec.functionName,
    timeoutMs: spec.timeoutMs,
    sampled: spec.sampled === true,
  });
  // The runtime sets the trace header in the environment for each invocation.
  process.env._X_AMZN_TRACE_ID = context.xRayTraceId;
  const started = performance.now();
  try {
    const result =
      fn.length >= 3
        ? await new Promise((resolve, reject) => {
            const returned = fn(spec.event, context, (error, value) =>
              error ? reject(error) : resolve(value),
            );
            if (returned !== null && typeof (returned as Promise<unknown>)?.then === 'function')
              (returned as Promise<unknown>).then(resolve, reject);
          })
        : await fn(spec.event, context);
    report({ outcome: 'ok', loadedMs, invokeMs: performance.now() - started, result: result ?? null });
  } catch (error) {
    report({ outcome: 'failed', loadedMs, invokeMs: performance.now() - started, error: describe(error) });
  }
}

interface ServerLike {
  readonly state: string;
  listen(port?: number): Promise<unknown>;
  close(): Promise<void>;
}

const isServer = (value: unknown): value is ServerLike =>
  value !== null &&
  typeof value === 'object' &&
  typeof (value as ServerLike).listen === 'function' &&
  typeof (value as ServerLike).close === 'function';

async function invokeHttp(spec: RunSpec, exported: unknown, loadedMs: number): Promise<never> {
  const { request: send } = await import('node:http');
  const port = spec.port!;
  const server = isServer(exported) ? exported : undefined;
  if (server?.state === 'idle') await server.listen(port);
  const request = spec.request!;
  // Raw header lists get no Host from node:http, and an HTTP/1.1 server refuses a request without one.
  const headers = request.headers.some(([name]) => name.toLowerCase() === 'host')
    ? request.headers
    : [['host', `127.0.0.1:${port}`] as [string, string], ...request.headers];
  const started = performance.now();
  const attempt = () =>
    new Promise<NonNullable<RunResult['response']>>((resolve, reject) => {
      const outgoing = send(
        { host: '127.0.0.1', port, method: request.method, path: request.path, headers: headers.flat() },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => {
            const headers: [string, string][] = [];
            for (let i = 0; i < incoming.rawHeaders.length; i += 2)
              headers.push([incoming.rawHeaders[i]!.toLowerCase(), incoming.rawHeaders[i + 1]!]);
            resolve({
              status: incoming.statusCode ?? 0,
              headers,
              body: Buffer.concat(chunks).toString('base64'),
            });
          });
          incoming.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(Buffer.from(request.body, 'base64'));
    });
  // A module that calls listen() without awaiting it may not be bound yet: retry a refused
  // connection for up to 5 s.
  const until = Date.now() + 5_000;
  for (;;) {
    try {
      const response = await attempt();
      const invokeMs = performance.now() - started;
      if (server !== undefined) await server.close();
      report({ outcome: 'ok', loadedMs, invokeMs, response });
    } catch (error) {
      if ((error as { code?: string }).code !== 'ECONNREFUSED' || Date.now() > until) {
        if ((error as { code?: string }).code === 'ECONNREFUSED')
          usage(
            `${basename(spec.file)} did not listen on 127.0.0.1:${port} (${spec.platform === 'openfaas' ? 'http_port' : 'PORT'}); call .listen() at module scope or export the server without listening (export const handler = ${spec.platform}(mesh, fn))`,
          );
        report({ outcome: 'failed', loadedMs, error: describe(error) });
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function main(spec: RunSpec): Promise<never> {
  let module: Record<string, unknown>;
  const loadStarted = performance.now();
  try {
    module =
      spec.loadWith === 'require'
        ? (createRequire(pathToFileURL(spec.file))(spec.file) as Record<string, unknown>)
        : ((await import(pathToFileURL(spec.file).href)) as Record<string, unknown>);
  } catch (error) {
    report({ outcome: 'init-failed', error: describe(error) });
  }
  const loadedMs = performance.now();
  loadMs = loadedMs - loadStarted;
  if (spec.loadOnly) report({ outcome: 'ok', loadedMs });
  const name = basename(spec.file);
  const exported = module[spec.exportName];
  if (exported === undefined && (spec.platform === 'lambda' || spec.exportGiven)) {
    const names = exportList(module);
    const none =
      module.default === undefined
        ? `${name} exports nothing`
        : `${name} has only a default export, and the runtime calls a named one`;
    usage(
      names.length === 0
        ? `${none}; export the wrapped handler (export const ${spec.exportName} = ${spec.platform}(mesh, fn))`
        : `${name} does not export "${spec.exportName}"; it exports ${names.join(', ')} — use --export ${names[0]}`,
    );
  }
  if (spec.platform === 'lambda') {
    if (typeof exported !== 'function')
      usage(
        `"${spec.exportName}" in ${name} is ${exported === null ? 'null' : `a${typeof exported === 'object' ? 'n' : ''} ${typeof exported}`}, not a function; export the wrapped handler (export const ${spec.exportName} = lambda(mesh, fn))`,
      );
    return invokeLambda(spec, exported as LambdaFunction, loadedMs);
  }
  return invokeHttp(spec, exported, loadedMs);
}

main(JSON.parse(process.argv[2]!) as RunSpec).catch((error: unknown) =>
  report({ outcome: 'failed', error: describe(error) }),
);
