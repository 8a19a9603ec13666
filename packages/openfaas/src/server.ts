/**
 * `openfaas(mesh, handler)`: the upstream server of-watchdog's HTTP mode proxies to. Every
 * method and path reaches the handler; the watchdog's facts (call id, timeouts) become the
 * context's.
 */
import type { HttpHandler, Mesh, TelemetryFacts } from '@sidecarless/core';
import { ConfigError } from '@sidecarless/core';
import type { InvocationFacts } from '@sidecarless/core/adapter';
import {
  createNodeServer,
  type NodeRaw,
  type NodeServer,
  type NodeServerOptions,
  serveHttp,
} from '@sidecarless/core/node-server';
import { parseGoDuration } from './go-duration.js';

/** Options of {@link openfaas}; the server options plus the watchdog's settings. */
export interface OpenFaasOptions extends Omit<NodeServerOptions, 'probes'> {
  /**
   * The watchdog's `exec_timeout` (Go duration such as `"10s"` or `"1m30s"`, or seconds).
   * Default: the `exec_timeout` environment variable; `"0"` means no platform limit (the mesh's
   * `invocation.timeout` applies).
   */
  execTimeout?: string;
  /** The environment to read `http_port`, `exec_timeout` and `write_timeout` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** What `ctx.raw` holds under OpenFaaS: the Node request and response. */
export type OpenFaasRaw = NodeRaw;

// X-Call-Id is echoed into logs: keep it to the shape the gateway generates (a UUID) or close.
const callIdShape = /^[\w.:-]{1,128}$/;

/** Reads the watchdog's settings once, at wrap time. @internal */
export function openfaasSettings(options: OpenFaasOptions): {
  server: NodeServerOptions;
  execTimeoutMs: number | undefined;
  port: number;
  gracePeriodMs: number;
  telemetry: TelemetryFacts;
} {
  const { execTimeout, env = process.env, ...server } = options;
  const rawExec = execTimeout ?? env.exec_timeout;
  const execMs = parseGoDuration(rawExec);
  if (rawExec !== undefined && execMs === undefined)
    throw new ConfigError([
      {
        path: 'openfaas.execTimeout',
        message: `${JSON.stringify(rawExec)} is not a Go duration; use "10s", "1m30s" or seconds`,
      },
    ]);
  const port = env.http_port === undefined ? 3000 : Number(env.http_port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new ConfigError([
      { path: 'env.http_port', message: `${JSON.stringify(env.http_port)} is not a port` },
    ]);
  // The watchdog gives the function `write_timeout` to answer; on SIGTERM we give in-flight
  // requests the same time to finish.
  const grace = parseGoDuration(env.write_timeout) || execMs || 10_000;
  // of-watchdog and faas-netes name the function in OPENFAAS_NAME; HOSTNAME is the pod.
  const telemetry: TelemetryFacts = {
    faas: { name: env.OPENFAAS_NAME || undefined, instance: env.HOSTNAME || undefined },
  };
  return {
    server,
    execTimeoutMs: execMs === 0 ? undefined : execMs,
    port,
    gracePeriodMs: grace,
    telemetry,
  };
}

/** Derives the invocation facts of one watchdog request. @internal */
export function openfaasFacts(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  execTimeoutMs: number | undefined,
  telemetry?: TelemetryFacts,
): InvocationFacts {
  const callId = headers['x-call-id'];
  const invocationId = typeof callId === 'string' && callIdShape.test(callId) ? callId : undefined;
  let limit = execTimeoutMs;
  const perRequest = headers['x-timeout'];
  if (typeof perRequest === 'string') {
    const ms = parseGoDuration(perRequest);
    if (ms !== undefined && ms > 0 && (limit === undefined || ms < limit)) limit = ms;
  }
  return {
    platform: 'openfaas',
    trigger: 'http',
    invocationId,
    deadline: limit === undefined ? undefined : Date.now() + limit,
    telemetry,
  };
}

/**
 * Serves `handler` for of-watchdog's HTTP mode: `.listen()` binds `127.0.0.1` on `http_port`
 * (default 3000, the watchdog's `upstream_url`); SIGTERM drains, flushes and exits 0.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { openfaas } from '@sidecarless/openfaas';
 *
 * const mesh = createMesh({ service: 'orders' });
 * await openfaas(mesh, async (request, ctx) => Response.json({ id: ctx.invocationId })).listen();
 * ```
 */
export function openfaasServer(
  mesh: Mesh,
  handler: HttpHandler<OpenFaasRaw>,
  options: OpenFaasOptions = {},
): NodeServer {
  const settings = openfaasSettings(options);
  const serve = serveHttp(mesh, handler, (incoming) =>
    openfaasFacts(incoming.headers, settings.execTimeoutMs, settings.telemetry),
  );
  return createNodeServer(mesh, serve, settings.server, {
    port: settings.port,
    probes: false,
    gracePeriodMs: settings.gracePeriodMs,
  });
}
