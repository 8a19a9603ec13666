import type { CallLimiterProvider, Duration } from '@sidecarless/core';
import {
  arrayOf,
  boolean,
  type Checker,
  checkObject,
  describe,
  duration,
  type IssueList,
  integer,
  isPlainObject,
  join,
  oneOf,
  optional,
  string,
} from '@sidecarless/core/feature';
import type { ConsistentHashOptions, HttpRouteOptions, SubsetOptions } from './traffic/options.js';
/**
 * The `upstreams` options section: one entry per service the function calls. Field names follow
 * Istio's DestinationRule (`trafficPolicy`: `connectionPool`, `outlierDetection`, `loadBalancer`,
 * `tls`) and VirtualService (`timeout`, `retries`) where they map, so a mesh user recognises
 * them. Checked once at `createMesh`; every message names the field and the fix.
 */

/** Istio `retryOn` conditions understood by the outbound client. */
export const retryOnConditions = [
  '5xx',
  'gateway-error',
  'reset',
  'connect-failure',
  'refused-stream',
  'retriable-4xx',
  'retriable-status-codes',
  'unavailable',
  'cancelled',
] as const;
/** One Istio `retryOn` condition. */
export type RetryOnCondition = (typeof retryOnConditions)[number];

/** Certificate or key material: PEM text, or the path of a file holding it (watched for rotation). */
export type TlsMaterial = string;

/**
 * One upstream: its policies, and where it lives — `url` for one HTTP endpoint, `endpoints` for
 * one or more (both need the HTTP transport, `@sidecarless/outbound/http`), or neither for an
 * upstream used only through `call()` (an AWS SDK client, a database driver).
 */
export type UpstreamOptions = UpstreamSettings &
  (
    | { url?: never; endpoints?: never }
    | {
        /**
         * Where the upstream lives: a base URL (`"https://inventory.internal:8443"`) or a list of
         * them (one endpoint each, load-balanced).
         */
        endpoints: string | readonly string[];
        url?: never;
      }
    | {
        /** The upstream's one base URL; shorthand for `endpoints` with a single URL. */
        url: string;
        endpoints?: never;
      }
  );

/** Everything of one upstream under `upstreams[name]` except where it lives. */
export interface UpstreamSettings {
  /**
   * `"NONE"` (default) connects to the URL's host name as given; `"DNS"` resolves the host name
   * to all its addresses, balances over them, and re-resolves when the records' TTL runs out
   * (Istio ServiceEntry `resolution`).
   */
  resolution?: 'NONE' | 'DNS';
  /** Whole-call timeout including retries (VirtualService `timeout`). Default: the invocation deadline. */
  timeout?: Duration;
  /** Time kept back from the invocation deadline for the handler to answer. Default `"50ms"`. */
  deadlineMargin?: Duration;
  /** Marks every method as safe to retry (the upstream deduplicates). Default false. */
  idempotent?: boolean;
  /** Allows absolute URLs to hosts that are not this upstream's endpoints. Default false. */
  passthrough?: boolean;
  /** VirtualService `retries`. */
  retries?: RetryOptions;
  /** DestinationRule `retryBudget`: caps retries as a share of active requests. */
  retryBudget?: { percent?: number; minRetryConcurrency?: number };
  /** A cockatiel circuit breaker around each attempt. */
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * A limit on calls to this upstream (a partner API's quota), local or shared by every instance
   * (`@sidecarless/ratelimit`): `{ requests: 100, per: 'second', scope: 'shared' }`. Each attempt
   * takes a token; over the limit a call waits up to its deadline (`wait: false`: fails at once).
   */
  rateLimit?: Record<string, unknown>;
  /** DestinationRule `outlierDetection`: ejects failing endpoints. */
  outlierDetection?: OutlierDetectionOptions;
  /** DestinationRule `loadBalancer`. Default `{ simple: "ROUND_ROBIN" }`. */
  loadBalancer?: {
    simple?: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';
    /** Sticky splits across routes' weights (`@sidecarless/outbound/traffic`). */
    consistentHash?: ConsistentHashOptions;
  };
  /** DestinationRule subsets: versions of this upstream (`@sidecarless/outbound/traffic`). */
  subsets?: readonly SubsetOptions[];
  /** VirtualService `http` routes, first match wins (`@sidecarless/outbound/traffic`). */
  http?: readonly HttpRouteOptions[];
  /** DestinationRule `connectionPool`. */
  connectionPool?: ConnectionPoolOptions;
  /** DestinationRule `tls` (client side). */
  tls?: TlsOptions;
}

/** VirtualService `retries`. */
export interface RetryOptions {
  /** Retries after the first try (Istio `attempts`). Default 2; 0 turns retries off. */
  attempts?: number;
  /** Timeout of each try. Default: none beyond the whole-call timeout. */
  perTryTimeout?: Duration;
  /**
   * Comma-separated conditions, Istio's vocabulary. Default (Istio's):
   * `"connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"` with 503.
   */
  retryOn?: string | readonly string[];
  /** Status codes for `retriable-status-codes`. Default `[503]`. */
  retriableStatusCodes?: readonly number[];
  /** Exponential backoff with full jitter (Envoy's `retry_back_off`). */
  backoff?: { baseInterval?: Duration; maxInterval?: Duration };
  /** Largest request body kept for replay; a larger body is sent once, without retries. Default 64 KiB. */
  maxBodyBytes?: number;
}

/** Circuit breaker settings (cockatiel). */
export interface CircuitBreakerOptions {
  /** Opens after this many consecutive failed attempts. Default 5 (when `sampling` is not set). */
  consecutiveFailures?: number;
  /** Opens when the failure ratio over a sliding window passes `threshold`. */
  sampling?: { threshold: number; duration: Duration; minimumRps?: number };
  /** How long the circuit stays open before one trial call. Default `"10s"`. */
  halfOpenAfter?: Duration;
  /** A state saved with `circuitState()`, to carry the circuit across a cold start. */
  initialState?: unknown;
  /**
   * Share the circuit with every instance through `@sidecarless/redis`: when one instance's
   * breaker opens, the others (and instances that start cold) fail fast too until
   * `halfOpenAfter` has passed. Each instance reads the shared state at most once per
   * `refreshInterval` (default `"1s"`), bounded by the store's timeout.
   */
  shared?: boolean | { refreshInterval?: Duration };
}

/** DestinationRule `outlierDetection`. */
export interface OutlierDetectionOptions {
  /** Ejects an endpoint after this many consecutive 5xx (or connection failures). Default 5. */
  consecutive5xxErrors?: number;
  /** Ejects after this many consecutive 502/503/504 or connection failures. Default off. */
  consecutiveGatewayErrors?: number;
  /** How often the ejection multiplier of healthy endpoints decays. Default `"10s"`. */
  interval?: Duration;
  /** An endpoint is ejected for `baseEjectionTime × times ejected`. Default `"30s"`. */
  baseEjectionTime?: Duration;
  /** At most this share of endpoints is ejected at once (at least one). Default 10. */
  maxEjectionPercent?: number;
  /** Below this share of healthy endpoints, ejection is ignored. Default 0. */
  minHealthPercent?: number;
}

/** DestinationRule `connectionPool`. */
export interface ConnectionPoolOptions {
  tcp?: {
    /** Connections per endpoint. Default: unlimited. */
    maxConnections?: number;
    /** Default `"10s"`. */
    connectTimeout?: Duration;
    /** TCP keepalive probes on pooled sockets. */
    tcpKeepalive?: { time?: Duration; interval?: Duration; probes?: number };
    /** How long an idle pooled connection stays open. Default `"60s"`. */
    idleTimeout?: Duration;
  };
  http?: {
    /** Requests that may wait for a connection; beyond it calls fail fast. Default: unlimited. */
    http1MaxPendingRequests?: number;
    /** Requests per connection before it is closed. Default: unlimited. */
    maxRequestsPerConnection?: number;
    /** `"UPGRADE"` offers HTTP/2 over TLS (ALPN). Default `"DEFAULT"` (HTTP/1.1). */
    h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  };
}

/** DestinationRule `tls`, client side. */
export interface TlsOptions {
  /** `"SIMPLE"` verifies the server; `"MUTUAL"` also presents a client certificate. */
  mode: 'SIMPLE' | 'MUTUAL';
  /** CA bundle to trust (PEM text or file path). Default: Node's public roots. */
  caCertificates?: TlsMaterial;
  /** Client certificate chain for `MUTUAL` (PEM text or file path). */
  clientCertificate?: TlsMaterial;
  /** Client private key for `MUTUAL` (PEM text or file path). */
  privateKey?: TlsMaterial;
  /** Accepted server identities: SPIFFE URIs or DNS names, any one must be in the certificate. */
  subjectAltNames?: readonly string[];
  /** Server name sent in the handshake. Default: the endpoint's host name. */
  sni?: string;
  /** Default `"TLSv1_2"`. */
  minVersion?: 'TLSv1_2' | 'TLSv1_3';
}

/** One upstream after checking: durations in milliseconds, defaults applied. */
export interface NormalizedUpstream {
  readonly name: string;
  readonly endpoints: readonly URL[];
  readonly resolution: 'NONE' | 'DNS';
  readonly timeoutMs: number | undefined;
  readonly deadlineMarginMs: number;
  readonly idempotent: boolean;
  readonly passthrough: boolean;
  readonly retries: {
    readonly attempts: number;
    readonly perTryTimeoutMs: number | undefined;
    readonly retryOn: ReadonlySet<RetryOnCondition>;
    readonly retriableStatusCodes: ReadonlySet<number>;
    readonly baseIntervalMs: number;
    readonly maxIntervalMs: number;
    readonly maxBodyBytes: number;
  };
  readonly retryBudget: { readonly percent: number; readonly minRetryConcurrency: number };
  readonly circuitBreaker:
    | {
        readonly consecutiveFailures: number | undefined;
        readonly sampling: { threshold: number; durationMs: number; minimumRps: number } | undefined;
        readonly halfOpenAfterMs: number;
        readonly initialState: unknown;
        /** How often the shared circuit is read (ms), when it is shared. */
        readonly sharedRefreshMs: number | undefined;
      }
    | undefined;
  readonly outlierDetection:
    | {
        readonly consecutive5xxErrors: number | undefined;
        readonly consecutiveGatewayErrors: number | undefined;
        readonly intervalMs: number;
        readonly baseEjectionTimeMs: number;
        readonly maxEjectionPercent: number;
        readonly minHealthPercent: number;
      }
    | undefined;
  readonly loadBalancer: 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';
  /** The traffic feature's routes and subsets (opaque here), when it is registered and set. */
  readonly traffic: unknown;
  /** The rate-limit feature's checked `rateLimit` (opaque here), when set. */
  readonly rateLimit: unknown;
  /** Each subset with endpoints, as an upstream of its own (`<name>/<subset>`). */
  readonly subsets: ReadonlyMap<string, NormalizedUpstream>;
  readonly connectionPool: {
    readonly maxConnections: number | undefined;
    readonly connectTimeoutMs: number;
    readonly keepAliveDelayMs: number | undefined;
    readonly idleTimeoutMs: number;
    readonly maxPendingRequests: number | undefined;
    readonly maxRequestsPerConnection: number | undefined;
    readonly allowH2: boolean;
    /** `http.maxRetries`: retries in flight at once across this upstream's calls (Envoy's max_retries). */
    readonly maxRetries: number | undefined;
    /** `http.http2MaxRequests`: attempts in flight at once (Envoy's max_requests), HTTP/1 or 2. */
    readonly maxRequests: number | undefined;
  };
  readonly tls:
    | {
        readonly mode: 'SIMPLE' | 'MUTUAL';
        readonly caCertificates: TlsMaterial | undefined;
        readonly clientCertificate: TlsMaterial | undefined;
        readonly privateKey: TlsMaterial | undefined;
        readonly subjectAltNames: readonly string[];
        readonly sni: string | undefined;
        readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
      }
    | undefined;
}

/** Istio's default `retryOn` when `retries` does not set it. */
export const defaultRetryOn = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';

const upstreamKeys = [
  'endpoints',
  'url',
  'resolution',
  'timeout',
  'deadlineMargin',
  'idempotent',
  'passthrough',
  'retries',
  'retryBudget',
  'circuitBreaker',
  'outlierDetection',
  'loadBalancer',
  'connectionPool',
  'tls',
  // The rate-limit feature's (`@sidecarless/ratelimit`): checked by it when registered.
  'rateLimit',
  // The traffic feature's (`@sidecarless/outbound/traffic`): checked by it when registered.
  'subsets',
  'http',
] as const;

/**
 * What the traffic feature (`@sidecarless/outbound/traffic`) checks of an upstream, when it is
 * registered: its routes and subsets. Reached through the registered feature, so a function
 * without routes bundles none of it.
 */
export interface TrafficChecker {
  checkUpstreamTraffic(
    input: Record<string, unknown>,
    path: string,
    issues: IssueList,
    upstreams: ReadonlySet<string>,
    upstream: string,
  ):
    | {
        readonly subsets: readonly {
          readonly name: string;
          readonly endpoints: readonly string[];
          readonly trafficPolicy: Readonly<Record<string, unknown>>;
        }[];
      }
    | undefined;
}

const endpointUrl: Checker<URL> = (value, path, issues) => {
  if (typeof value !== 'string')
    return issues.add(path, `${describe(value)} is not a URL; use "https://inventory.internal:8443"`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return issues.add(path, `${describe(value)} is not a URL; use "https://inventory.internal:8443"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return issues.add(path, `${describe(value)} is not http(s); use an http:// or https:// URL`);
  if (url.search !== '' || url.hash !== '' || url.username !== '')
    return issues.add(path, `${describe(value)} must be a base URL without query, fragment or credentials`);
  return url;
};

const percent: Checker<number> = (value, path, issues) =>
  typeof value === 'number' && value >= 0 && value <= 100
    ? value
    : issues.add(path, `${describe(value)} is not a percentage; use a number from 0 to 100`);

const statusCode: Checker<number> = integer(100, 599);

/** Settings that only mean something for HTTP endpoints. */
const httpOnlyKeys = ['resolution', 'passthrough', 'tls', 'outlierDetection', 'loadBalancer'] as const;

/** Checks the whole `upstreams` section. Returns an empty map when absent. */
export function checkUpstreams(
  value: unknown,
  issues: IssueList,
  httpRegistered = true,
  traffic?: TrafficChecker,
  limits?: Pick<CallLimiterProvider, 'checkCallLimit'>,
  /** Whether a shared-state feature (`@sidecarless/redis`) is registered. */
  sharedState = false,
): ReadonlyMap<string, NormalizedUpstream> {
  const out = new Map<string, NormalizedUpstream>();
  if (value === undefined) return out;
  if (!isPlainObject(value)) {
    issues.add(
      'upstreams',
      `expected an object of named upstreams, got ${describe(value)}; use { inventory: { endpoints: "https://…" } }`,
    );
    return out;
  }
  const names = new Set(Object.keys(value));
  for (const [name, entry] of Object.entries(value)) {
    const checked = checkUpstream(
      name,
      entry,
      `upstreams.${name}`,
      issues,
      httpRegistered,
      traffic,
      names,
      limits,
      sharedState,
    );
    if (checked) out.set(name, checked);
  }
  return out;
}

const trafficImport =
  "needs the traffic feature, which is not registered; add import { traffic } from '@sidecarless/outbound/traffic' and pass it to createMesh: createMesh(options, [outbound, traffic])";

function checkUpstream(
  name: string,
  value: unknown,
  path: string,
  issues: IssueList,
  httpRegistered: boolean,
  traffic?: TrafficChecker,
  names: ReadonlySet<string> = new Set([name]),
  limits?: Pick<CallLimiterProvider, 'checkCallLimit'>,
  sharedState = false,
): NormalizedUpstream | undefined {
  const input = checkObject(value, path, issues, upstreamKeys);
  if (!input) return undefined;
  const before = issues.issues.length;
  const hashed = isPlainObject(input.loadBalancer) && input.loadBalancer.consistentHash !== undefined;
  let routed: ReturnType<TrafficChecker['checkUpstreamTraffic']>;
  if (traffic) routed = traffic.checkUpstreamTraffic(input, path, issues, names, name);
  else {
    if (input.subsets !== undefined) issues.add(join(path, 'subsets'), trafficImport);
    if (input.http !== undefined) issues.add(join(path, 'http'), trafficImport);
    if (hashed) issues.add(join(path, 'loadBalancer.consistentHash'), trafficImport);
  }
  let endpoints: URL[] = [];
  if (input.url !== undefined && input.endpoints !== undefined) {
    issues.add(join(path, 'url'), 'set either url (one endpoint) or endpoints (one or more), not both');
  } else if (input.url !== undefined) {
    const one = endpointUrl(input.url, join(path, 'url'), issues);
    if (one) endpoints = [one];
  } else if (input.endpoints === undefined) {
    // Neither: an upstream used through call() only — its policies need no transport.
    for (const key of httpOnlyKeys)
      if (input[key] !== undefined)
        issues.add(
          join(path, key),
          'applies to HTTP endpoints; set url: "https://inventory.internal:8443" (or remove it for a call()-only upstream)',
        );
  } else if (Array.isArray(input.endpoints)) {
    endpoints = arrayOf(endpointUrl)(input.endpoints, join(path, 'endpoints'), issues) ?? [];
    if (input.endpoints.length === 0) issues.add(join(path, 'endpoints'), 'is empty; list at least one URL');
  } else {
    const one = endpointUrl(input.endpoints, join(path, 'endpoints'), issues);
    if (one) endpoints = [one];
  }
  const where = join(path, input.url !== undefined ? 'url' : 'endpoints');
  if (endpoints.length > 0 && !httpRegistered)
    issues.add(
      where,
      "an HTTP upstream needs the HTTP transport, which is not registered; add import { http } from '@sidecarless/outbound/http' and pass it to createMesh: createMesh(options, [outbound, http])",
    );
  const resolution = optional(input, 'resolution', path, issues, oneOf(['NONE', 'DNS'] as const)) ?? 'NONE';
  if (resolution === 'DNS' && endpoints.length > 1)
    issues.add(join(path, 'resolution'), '"DNS" resolves one host name; give a single URL in endpoints');

  const tls = checkTls(input.tls, join(path, 'tls'), issues);
  if (tls) {
    for (const url of endpoints)
      if (url.protocol === 'http:')
        issues.add(
          join(path, 'endpoints'),
          `${JSON.stringify(url.origin)} is plaintext but tls is configured; use https:// (there is never a plaintext fallback)`,
        );
  }

  const result: NormalizedUpstream = {
    name,
    endpoints,
    resolution,
    timeoutMs: optional(input, 'timeout', path, issues, duration),
    deadlineMarginMs: optional(input, 'deadlineMargin', path, issues, duration) ?? 50,
    idempotent: optional(input, 'idempotent', path, issues, boolean) ?? false,
    passthrough: optional(input, 'passthrough', path, issues, boolean) ?? false,
    retries: checkRetries(input.retries, join(path, 'retries'), issues),
    retryBudget: checkRetryBudget(input.retryBudget, join(path, 'retryBudget'), issues),
    circuitBreaker: checkBreaker(input.circuitBreaker, join(path, 'circuitBreaker'), issues, sharedState),
    outlierDetection: checkOutlier(input.outlierDetection, join(path, 'outlierDetection'), issues),
    loadBalancer: checkLoadBalancer(input.loadBalancer, join(path, 'loadBalancer'), issues),
    connectionPool: checkPool(input.connectionPool, join(path, 'connectionPool'), issues),
    tls,
    traffic: routed,
    rateLimit:
      input.rateLimit === undefined
        ? undefined
        : limits?.checkCallLimit
          ? limits.checkCallLimit(input.rateLimit, join(path, 'rateLimit'), issues)
          : issues.add(
              join(path, 'rateLimit'),
              "needs the rate-limit feature, which is not registered; add import { rateLimits } from '@sidecarless/ratelimit' and pass it to createMesh",
            ),
    subsets: new Map(),
  };
  // Each subset is this upstream at endpoints of its own, with the same policies (and breaker,
  // pool and outlier state of its own, as Envoy keeps per subset).
  const subsets = result.subsets as Map<string, NormalizedUpstream>;
  routed?.subsets.forEach((subset, index) => {
    // A subset without endpoints of its own (a Lambda alias reached through call()) shares the
    // upstream's endpoints, or none.
    const endpoints = subset.endpoints.length > 0 ? subset.endpoints : (input.url ?? input.endpoints);
    // The subset's own copy carries no traffic keys: the routes are the upstream's.
    const loadBalancer = isPlainObject(input.loadBalancer)
      ? { simple: input.loadBalancer.simple }
      : input.loadBalancer;
    // The subset's trafficPolicy overrides the upstream's settings key by key, as Istio's does.
    const own = {
      ...input,
      url: undefined,
      endpoints,
      subsets: undefined,
      http: undefined,
      loadBalancer,
      ...subset.trafficPolicy,
    };
    const checked = checkUpstream(
      `${name}/${subset.name}`,
      own,
      `${path}.subsets[${index}]`,
      issues,
      httpRegistered,
      undefined,
      names,
      limits,
      sharedState,
    );
    if (checked) subsets.set(subset.name, checked);
  });
  return issues.issues.length === before ? result : undefined;
}

function checkRetries(value: unknown, path: string, issues: IssueList): NormalizedUpstream['retries'] {
  const input =
    value === undefined
      ? {}
      : (checkObject(value, path, issues, [
          'attempts',
          'perTryTimeout',
          'retryOn',
          'retriableStatusCodes',
          'backoff',
          'maxBodyBytes',
        ]) ?? {});
  // Istio writes `retryOn` as one comma-separated string; a list of conditions is accepted too.
  const retryOnText =
    (Array.isArray(input.retryOn)
      ? arrayOf(string('use conditions such as "5xx"'))(input.retryOn, join(path, 'retryOn'), issues)?.join(
          ',',
        )
      : optional(
          input,
          'retryOn',
          path,
          issues,
          string(`use conditions such as "5xx,reset,connect-failure"`),
        )) ?? defaultRetryOn;
  const retryOn = new Set<RetryOnCondition>();
  for (const raw of retryOnText.split(',')) {
    const condition = raw.trim();
    if (condition === '') continue;
    if ((retryOnConditions as readonly string[]).includes(condition))
      retryOn.add(condition as RetryOnCondition);
    else
      issues.add(
        join(path, 'retryOn'),
        `${describe(condition)} is not a retry condition; use any of ${retryOnConditions.join(', ')}`,
      );
  }
  const backoff =
    input.backoff === undefined
      ? {}
      : (checkObject(input.backoff, join(path, 'backoff'), issues, ['baseInterval', 'maxInterval']) ?? {});
  const baseIntervalMs = optional(backoff, 'baseInterval', join(path, 'backoff'), issues, duration) ?? 25;
  const maxIntervalMs =
    optional(backoff, 'maxInterval', join(path, 'backoff'), issues, duration) ?? baseIntervalMs * 10;
  if (maxIntervalMs < baseIntervalMs)
    issues.add(join(path, 'backoff.maxInterval'), 'is shorter than baseInterval; make it at least as long');
  return {
    attempts: optional(input, 'attempts', path, issues, integer(0, 10)) ?? 2,
    perTryTimeoutMs: optional(input, 'perTryTimeout', path, issues, duration),
    retryOn,
    retriableStatusCodes: new Set(
      optional(input, 'retriableStatusCodes', path, issues, arrayOf(statusCode)) ?? [503],
    ),
    baseIntervalMs,
    maxIntervalMs,
    maxBodyBytes: optional(input, 'maxBodyBytes', path, issues, integer(0)) ?? 65_536,
  };
}

function checkRetryBudget(
  value: unknown,
  path: string,
  issues: IssueList,
): NormalizedUpstream['retryBudget'] {
  // Envoy's defaults for a retry budget: 20% of active requests, at least 3 concurrent retries.
  const defaults = { percent: 20, minRetryConcurrency: 3 };
  if (value === undefined) return defaults;
  const input = checkObject(value, path, issues, ['percent', 'minRetryConcurrency']);
  if (!input) return defaults;
  return {
    percent: optional(input, 'percent', path, issues, percent) ?? defaults.percent,
    minRetryConcurrency:
      optional(input, 'minRetryConcurrency', path, issues, integer(0)) ?? defaults.minRetryConcurrency,
  };
}

function checkBreaker(
  value: unknown,
  path: string,
  issues: IssueList,
  sharedState: boolean,
): NormalizedUpstream['circuitBreaker'] {
  if (value === undefined) return undefined;
  const input = checkObject(value, path, issues, [
    'consecutiveFailures',
    'sampling',
    'halfOpenAfter',
    'initialState',
    'shared',
  ]);
  if (!input) return undefined;
  let sampling: { threshold: number; durationMs: number; minimumRps: number } | undefined;
  if (input.sampling !== undefined) {
    const s = checkObject(input.sampling, join(path, 'sampling'), issues, [
      'threshold',
      'duration',
      'minimumRps',
    ]);
    if (s) {
      const threshold =
        typeof s.threshold === 'number' && s.threshold > 0 && s.threshold <= 1
          ? s.threshold
          : issues.add(
              join(path, 'sampling.threshold'),
              `${describe(s.threshold)} is not a ratio; use a number above 0 up to 1, such as 0.2`,
            );
      const durationMs =
        s.duration === undefined
          ? issues.add(join(path, 'sampling.duration'), 'is required; use a window such as "30s"')
          : duration(s.duration, join(path, 'sampling.duration'), issues);
      const minimumRps = optional(s, 'minimumRps', join(path, 'sampling'), issues, integer(0)) ?? 5;
      if (threshold !== undefined && durationMs !== undefined)
        sampling = { threshold, durationMs, minimumRps };
    }
  }
  const consecutiveFailures = optional(input, 'consecutiveFailures', path, issues, integer(1));
  if (sampling && consecutiveFailures !== undefined)
    issues.add(path, 'set either consecutiveFailures or sampling, not both');
  return {
    consecutiveFailures: sampling ? undefined : (consecutiveFailures ?? 5),
    sampling,
    halfOpenAfterMs: optional(input, 'halfOpenAfter', path, issues, duration) ?? 10_000,
    initialState: input.initialState,
    sharedRefreshMs: checkShared(input.shared, join(path, 'shared'), issues, sharedState),
  };
}

function checkShared(
  value: unknown,
  path: string,
  issues: IssueList,
  sharedState: boolean,
): number | undefined {
  if (value === undefined || value === false) return undefined;
  if (!sharedState) {
    issues.add(
      path,
      "needs shared state, which is not registered; add import { redis } from '@sidecarless/redis', pass it to createMesh and set redis: { url: 'redis://…' }",
    );
    return undefined;
  }
  if (value === true) return 1_000;
  const input = checkObject(value, path, issues, ['refreshInterval']);
  if (!input) return undefined;
  return optional(input, 'refreshInterval', path, issues, duration) ?? 1_000;
}

function checkOutlier(
  value: unknown,
  path: string,
  issues: IssueList,
): NormalizedUpstream['outlierDetection'] {
  if (value === undefined) return undefined;
  const input = checkObject(value, path, issues, [
    'consecutive5xxErrors',
    'consecutiveGatewayErrors',
    'interval',
    'baseEjectionTime',
    'maxEjectionPercent',
    'minHealthPercent',
  ]);
  if (!input) return undefined;
  const consecutive5xxErrors = optional(input, 'consecutive5xxErrors', path, issues, integer(0));
  const consecutiveGatewayErrors = optional(input, 'consecutiveGatewayErrors', path, issues, integer(0));
  return {
    // Istio: 0 disables a check; 5 consecutive 5xx is the default.
    consecutive5xxErrors: consecutive5xxErrors === 0 ? undefined : (consecutive5xxErrors ?? 5),
    consecutiveGatewayErrors: consecutiveGatewayErrors === 0 ? undefined : consecutiveGatewayErrors,
    intervalMs: optional(input, 'interval', path, issues, duration) ?? 10_000,
    baseEjectionTimeMs: optional(input, 'baseEjectionTime', path, issues, duration) ?? 30_000,
    maxEjectionPercent: optional(input, 'maxEjectionPercent', path, issues, percent) ?? 10,
    minHealthPercent: optional(input, 'minHealthPercent', path, issues, percent) ?? 0,
  };
}

function checkLoadBalancer(
  value: unknown,
  path: string,
  issues: IssueList,
): NormalizedUpstream['loadBalancer'] {
  if (value === undefined) return 'ROUND_ROBIN';
  // `consistentHash` is the traffic feature's (sticky splits), checked there.
  const input = checkObject(value, path, issues, ['simple', 'consistentHash']);
  if (!input) return 'ROUND_ROBIN';
  return (
    optional(input, 'simple', path, issues, oneOf(['ROUND_ROBIN', 'LEAST_REQUEST', 'RANDOM'] as const)) ??
    'ROUND_ROBIN'
  );
}

function checkPool(value: unknown, path: string, issues: IssueList): NormalizedUpstream['connectionPool'] {
  const input = value === undefined ? {} : (checkObject(value, path, issues, ['tcp', 'http']) ?? {});
  const tcpPath = join(path, 'tcp');
  const httpPath = join(path, 'http');
  const tcp =
    input.tcp === undefined
      ? {}
      : (checkObject(input.tcp, tcpPath, issues, [
          'maxConnections',
          'connectTimeout',
          'tcpKeepalive',
          'idleTimeout',
        ]) ?? {});
  const http =
    input.http === undefined
      ? {}
      : (checkObject(input.http, httpPath, issues, [
          'http1MaxPendingRequests',
          'http2MaxRequests',
          'maxRequestsPerConnection',
          'maxRetries',
          'h2UpgradePolicy',
        ]) ?? {});
  let keepAliveDelayMs: number | undefined;
  if (tcp.tcpKeepalive !== undefined) {
    const keepalivePath = join(tcpPath, 'tcpKeepalive');
    const keepalive = checkObject(tcp.tcpKeepalive, keepalivePath, issues, ['time', 'interval', 'probes']);
    if (keepalive) {
      // Node sets the idle time before the first probe; interval and probe count are the OS's.
      keepAliveDelayMs = optional(keepalive, 'time', keepalivePath, issues, duration) ?? 7_200_000;
      optional(keepalive, 'interval', keepalivePath, issues, duration);
      optional(keepalive, 'probes', keepalivePath, issues, integer(1));
    }
  }
  const maxConnections = optional(tcp, 'maxConnections', tcpPath, issues, integer(1));
  const maxPendingRequests = optional(http, 'http1MaxPendingRequests', httpPath, issues, integer(0));
  if (maxPendingRequests === 0 && maxConnections === undefined)
    issues.add(
      join(httpPath, 'http1MaxPendingRequests'),
      '0 without tcp.maxConnections would refuse every request while its connection opens; set tcp.maxConnections too, or a limit of 1 or more',
    );
  return {
    maxConnections,
    connectTimeoutMs: optional(tcp, 'connectTimeout', tcpPath, issues, duration) ?? 10_000,
    keepAliveDelayMs,
    idleTimeoutMs: optional(tcp, 'idleTimeout', tcpPath, issues, duration) ?? 60_000,
    maxPendingRequests,
    maxRequestsPerConnection: optional(http, 'maxRequestsPerConnection', httpPath, issues, integer(1)),
    maxRetries: optional(http, 'maxRetries', httpPath, issues, integer(0)),
    maxRequests: optional(http, 'http2MaxRequests', httpPath, issues, integer(1)),
    allowH2:
      optional(
        http,
        'h2UpgradePolicy',
        httpPath,
        issues,
        oneOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'] as const),
      ) === 'UPGRADE',
  };
}

const material = string('use PEM text ("-----BEGIN CERTIFICATE-----…") or a file path');

function checkTls(value: unknown, path: string, issues: IssueList): NormalizedUpstream['tls'] {
  if (value === undefined) return undefined;
  const input = checkObject(value, path, issues, [
    'mode',
    'caCertificates',
    'clientCertificate',
    'privateKey',
    'subjectAltNames',
    'sni',
    'minVersion',
  ]);
  if (!input) return undefined;
  const mode =
    input.mode === undefined
      ? issues.add(
          join(path, 'mode'),
          'is required; use "SIMPLE" (verify the server) or "MUTUAL" (also present a client certificate)',
        )
      : oneOf(['SIMPLE', 'MUTUAL'] as const)(input.mode, join(path, 'mode'), issues);
  const clientCertificate = optional(input, 'clientCertificate', path, issues, material);
  const privateKey = optional(input, 'privateKey', path, issues, material);
  if (mode === 'MUTUAL') {
    if (clientCertificate === undefined && input.clientCertificate === undefined)
      issues.add(
        join(path, 'clientCertificate'),
        'is required for MUTUAL; give the client certificate PEM or its file path',
      );
    if (privateKey === undefined && input.privateKey === undefined)
      issues.add(
        join(path, 'privateKey'),
        'is required for MUTUAL; give the private key PEM or its file path',
      );
  } else if (mode === 'SIMPLE' && (clientCertificate !== undefined || privateKey !== undefined)) {
    issues.add(
      join(path, 'mode'),
      'is "SIMPLE" but a client certificate is given; use "MUTUAL" to present it',
    );
  }
  const minVersion =
    optional(input, 'minVersion', path, issues, oneOf(['TLSv1_2', 'TLSv1_3'] as const)) ?? 'TLSv1_2';
  if (mode === undefined) return undefined;
  return {
    mode,
    caCertificates: optional(input, 'caCertificates', path, issues, material),
    clientCertificate,
    privateKey,
    subjectAltNames:
      optional(
        input,
        'subjectAltNames',
        path,
        issues,
        arrayOf(string('use "spiffe://cluster.local/ns/shop/sa/inventory" or a DNS name')),
      ) ?? [],
    sni: optional(
      input,
      'sni',
      path,
      issues,
      string('use the server name to send, such as "inventory.internal"'),
    ),
    minVersion: minVersion === 'TLSv1_3' ? 'TLSv1.3' : 'TLSv1.2',
  };
}
