/** Options of the shared Node HTTP server, checked once when the server is created. */
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { type Duration, parseDuration } from '../duration.js';
import { ConfigError, type ConfigIssue } from '../errors.js';

/** Paths answered by the server itself, before any handler runs. */
export interface ProbePaths {
  /** Answers 200 once the mesh is ready, 503 before that and while draining. */
  readiness?: string | false;
  /** Answers 200 while the process can serve, 503 when init failed. */
  liveness?: string | false;
}

/** What a container adapter does on a shutdown signal: the Node server's options, and Kubeless'. */
export interface ShutdownOptions {
  /** How long in-flight requests may run after a shutdown signal before they are cut. Default `"10s"`. */
  gracePeriod?: Duration;
  /**
   * Drain, flush and exit 0 on these signals. Default `["SIGTERM", "SIGINT"]`; `false` leaves
   * signal handling to you (call `close()` yourself), as tests and embedding hosts need.
   */
  shutdownSignals?: readonly NodeJS.Signals[] | false;
  /** Call `process.exit(0)` after draining on a signal. Default true. */
  exitOnShutdown?: boolean;
}

/** {@link ShutdownOptions} after checking, with defaults applied. */
export interface NormalizedShutdownOptions {
  gracePeriodMs: number;
  shutdownSignals: readonly NodeJS.Signals[];
  exitOnShutdown: boolean;
}

/** Options of {@link createNodeServer}. */
export interface NodeServerOptions extends ShutdownOptions {
  /** Port to listen on. Default: the adapter's platform default. `0` picks a free port. */
  port?: number;
  /** Address to bind. Default `"127.0.0.1"`: the platform's proxy runs in the same pod. */
  host?: string;
  /** Largest request body accepted, in bytes; larger ones get 413. Default 1 MiB. */
  bodyLimit?: number;
  /** Time for a client to send the request headers (slowloris guard). Default `"10s"`. */
  headersTimeout?: Duration;
  /** Time for a client to send the whole request, body included. Default `"60s"`. */
  requestTimeout?: Duration;
  /** Idle time before a keep-alive connection is closed. Default `"5s"`. */
  keepAliveTimeout?: Duration;
  /** Health endpoints; `false` turns them off so every path reaches the handler. */
  probes?: ProbePaths | false;
  /**
   * During a drain, how long an idle keep-alive connection stays open so that a request a client
   * already sent on it is served (with `connection: close`) rather than reset. Default `"500ms"`.
   */
  drainLinger?: Duration;
  /**
   * Terminate TLS here: the options of `node:https.createServer` (`key`, `cert`, `ca`,
   * `requestCert`…). The peer certificate is then readable from `ctx.raw.request.socket`.
   */
  tls?: HttpsServerOptions;
}

/** {@link NodeServerOptions} after checking, with defaults applied. */
export interface NormalizedServerOptions extends NormalizedShutdownOptions {
  port: number;
  host: string;
  bodyLimit: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  readinessPath: string | undefined;
  livenessPath: string | undefined;
  drainLingerMs: number;
  tls: HttpsServerOptions | undefined;
}

const known = new Set([
  'port',
  'host',
  'bodyLimit',
  'headersTimeout',
  'requestTimeout',
  'keepAliveTimeout',
  'probes',
  'gracePeriod',
  'drainLinger',
  'shutdownSignals',
  'exitOnShutdown',
  'tls',
]);

/** Defaults an adapter may change (its platform's port, its probe paths). */
export interface ServerDefaults {
  port: number;
  probes: ProbePaths | false;
  gracePeriodMs?: number;
}

/**
 * Checks `options` (under the name `prefix` in messages) and applies the defaults; throws a
 * `ConfigError` naming every bad field.
 *
 * @example
 * ```ts
 * import { normalizeServerOptions } from '@sidecarless/core/node-server';
 *
 * const config = normalizeServerOptions({ gracePeriod: '30s' }, { port: 8080, probes: false });
 * config.gracePeriodMs; // 30000
 * ```
 */
export function normalizeServerOptions(
  options: NodeServerOptions,
  defaults: ServerDefaults,
  prefix = 'server',
): NormalizedServerOptions {
  const issues: ConfigIssue[] = [];
  const at = (key: string) => `${prefix}.${key}`;
  for (const key of Object.keys(options)) {
    if (!known.has(key))
      issues.push({ path: at(key), message: `unknown option; known keys: ${[...known].join(', ')}` });
  }
  const ms = (key: keyof NodeServerOptions, fallback: number): number =>
    durationMs(options[key] as Duration | undefined, at(key), fallback, issues);
  const port = options.port ?? defaults.port;
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    issues.push({
      path: at('port'),
      message: `${String(port)} is not a port; use an integer from 0 to 65535`,
    });
  const bodyLimit = options.bodyLimit ?? 1_048_576;
  if (!Number.isInteger(bodyLimit) || bodyLimit < 0)
    issues.push({
      path: at('bodyLimit'),
      message: `${String(bodyLimit)} is not a byte count; use an integer such as 1048576`,
    });
  const probes = options.probes === undefined ? defaults.probes : options.probes;
  const probePath = (name: keyof ProbePaths): string | undefined => {
    if (probes === false) return undefined;
    const value = probes[name];
    if (value === false || value === undefined) return undefined;
    if (typeof value !== 'string' || !value.startsWith('/'))
      issues.push({
        path: at(`probes.${name}`),
        message: `use a path starting with "/", such as "/health/${name}"`,
      });
    return value;
  };
  const normalized: NormalizedServerOptions = {
    port,
    host: options.host ?? '127.0.0.1',
    bodyLimit,
    headersTimeoutMs: ms('headersTimeout', 10_000),
    requestTimeoutMs: ms('requestTimeout', 60_000),
    keepAliveTimeoutMs: ms('keepAliveTimeout', 5_000),
    readinessPath: probePath('readiness'),
    livenessPath: probePath('liveness'),
    ...checkShutdownOptions(options, prefix, issues, defaults.gracePeriodMs),
    drainLingerMs: ms('drainLinger', 500),
    tls: options.tls,
  };
  if (normalized.headersTimeoutMs > normalized.requestTimeoutMs && normalized.requestTimeoutMs > 0)
    issues.push({ path: at('headersTimeout'), message: 'must not be longer than requestTimeout' });
  if (issues.length > 0) throw new ConfigError(issues);
  return normalized;
}

/** A duration option in ms; `fallback` when absent, or when invalid (and `issues` says so). */
function durationMs(
  value: Duration | undefined,
  path: string,
  fallback: number,
  issues: ConfigIssue[],
): number {
  if (value === undefined) return fallback;
  const parsed = parseDuration(value);
  if (parsed !== undefined) return parsed;
  issues.push({ path, message: `${JSON.stringify(value)} is not a duration; use "10s" or 10000` });
  return fallback;
}

/**
 * Checks the shutdown options (under `prefix` in messages) into `issues` and applies the
 * defaults: what the Node server and the Kubeless adapter both take.
 *
 * @example
 * ```ts
 * import { checkShutdownOptions } from '@sidecarless/core/node-server';
 *
 * const issues: { path: string; message: string }[] = [];
 * const shutdown = checkShutdownOptions({ gracePeriod: '20s' }, 'kubeless', issues);
 * shutdown.shutdownSignals; // ["SIGTERM", "SIGINT"]
 * ```
 */
export function checkShutdownOptions(
  options: ShutdownOptions,
  prefix: string,
  issues: ConfigIssue[],
  defaultGraceMs = 10_000,
): NormalizedShutdownOptions {
  const signals = options.shutdownSignals ?? ['SIGTERM', 'SIGINT'];
  return {
    gracePeriodMs: durationMs(options.gracePeriod, `${prefix}.gracePeriod`, defaultGraceMs, issues),
    shutdownSignals: signals === false ? [] : signals,
    exitOnShutdown: options.exitOnShutdown ?? true,
  };
}
