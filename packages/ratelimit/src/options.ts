/**
 * The `rateLimits` section, in Envoy's and Linkerd's vocabulary: descriptors (what a request is
 * counted by), token buckets (`maxTokens`, `tokensPerFill`, `fillInterval`) or a plain
 * `requests` per `second`/`minute`/`hour`, per-identity overrides (Linkerd's `overrides`), a
 * shadow mode, two scopes (`local`: this instance; `shared`: every instance, through Redis).
 */
import { parseDuration, type TokenBucketSpec } from '@sidecarless/core';
import {
  arrayOf,
  boolean,
  type Checker,
  checkObject,
  describe,
  duration,
  type IssueList,
  integer,
  ipBlock,
  isPlainObject,
  join,
  oneOf,
  optional,
  string,
} from '@sidecarless/core/feature';

/**
 * What a request is counted by (Envoy's rate-limit actions):
 * - `subject`: the verified JWT's `sub` (needs `@sidecarless/auth`);
 * - `{ claim: 'tenant' }`: a claim of the verified JWT;
 * - `peer`: the mTLS peer's identity (its SPIFFE id, or Istio's principal);
 * - `clientAddress`: the client's IP — the direct peer, or behind `trustedProxies` the nearest
 *   untrusted `x-forwarded-for` hop;
 * - `{ header: 'x-api-key' }`: a request header's value (never logged);
 * - `route`: the limit's own `match` (method and path prefix), one bucket for all its callers;
 * - `global`: one bucket for every request.
 *
 * A request that lacks the value (no token for `subject`) is not counted by that limit, as in
 * Envoy: pair such a limit with a `clientAddress` or `global` one.
 */
export type DescriptorOptions =
  | 'subject'
  | 'peer'
  | 'clientAddress'
  | 'route'
  | 'global'
  | { claim: string }
  | { header: string };

/** Envoy's token bucket. */
export interface TokenBucketOptions {
  /** The bucket's size: the largest burst. */
  maxTokens: number;
  /** Tokens added each `fillInterval`. Default `maxTokens`. */
  tokensPerFill?: number;
  /** `"1s"`, `"1m"`, or milliseconds. */
  fillInterval: string | number;
}

/** The size of a limit: `requests` per `per`, or an Envoy token bucket. */
export interface LimitSize {
  /** Requests allowed per `per` (and the largest burst). */
  requests?: number;
  /** `second`, `minute`, `hour`, or a duration such as `"10s"`. */
  per?: 'second' | 'minute' | 'hour' | string | number;
  /** Envoy's form, instead of `requests`/`per`. */
  tokenBucket?: TokenBucketOptions;
}

/** A limit of its own for some callers (Linkerd's per-client `overrides`). */
export interface LimitOverride extends LimitSize {
  /** The descriptor values it applies to: subjects, SPIFFE ids, addresses, header values. */
  values: readonly string[];
}

/** One limit. */
export interface RateLimitOptions extends LimitSize {
  /** Names the limit in metrics (`descriptor`), headers (`RateLimit-Policy`) and logs. */
  name: string;
  descriptor: DescriptorOptions;
  /** Which requests it applies to (Envoy's per-route limits); every request when absent. */
  match?: { methods?: readonly string[]; pathPrefix?: string };
  /** `local` (default): a bucket in this instance. `shared`: one bucket for every instance, in Redis. */
  scope?: 'local' | 'shared';
  overrides?: readonly LimitOverride[];
  /** Count and report requests over the limit, but do not refuse them. */
  shadow?: boolean;
  /**
   * `shared` only: tokens taken from Redis per round trip and spent locally (default 1: every
   * check asks Redis). With 10, nine checks in ten stay off the network; the fleet may exceed
   * the limit by at most `lease − 1` tokens per instance, and unspent tokens lapse after 1 s.
   */
  lease?: number;
}

/** The `rateLimits` section. */
export interface RateLimitsOptions {
  limits?: readonly RateLimitOptions[];
  /** Proxies (IPs or CIDRs) whose `x-forwarded-for` is believed, for `clientAddress`. */
  trustedProxies?: readonly string[];
  /**
   * When Redis does not answer a `shared` check in time: `open` (default) lets this instance's
   * own bucket of the same size decide; `closed` refuses with `503`.
   */
  failureMode?: 'open' | 'closed';
  /**
   * A cap on invocations running at once in this instance (container platforms: Knative,
   * OpenFaaS): over it a request is shed with `503` and `Retry-After`, not queued.
   */
  inFlight?: { max: number; retryAfter?: string | number };
  /** Distinct keys kept per local limit (oldest dropped first). Default 10,000. */
  maxKeys?: number;
}

/** A descriptor, checked. */
export type NormalizedDescriptor =
  | { readonly kind: 'subject' | 'peer' | 'clientAddress' | 'route' | 'global' }
  | { readonly kind: 'claim'; readonly claim: string }
  | { readonly kind: 'header'; readonly header: string };

export interface NormalizedLimit {
  readonly name: string;
  readonly descriptor: NormalizedDescriptor;
  readonly methods: readonly string[] | undefined;
  readonly pathPrefix: string | undefined;
  readonly scope: 'local' | 'shared';
  readonly bucket: TokenBucketSpec;
  readonly overrides: ReadonlyMap<string, TokenBucketSpec>;
  readonly shadow: boolean;
  readonly lease: number;
}

export interface NormalizedRateLimits {
  readonly limits: readonly NormalizedLimit[];
  readonly trustedProxies: readonly string[];
  readonly failureMode: 'open' | 'closed';
  readonly inFlight: { readonly max: number; readonly retryAfterS: number } | undefined;
  readonly maxKeys: number;
}

const sectionKeys = ['limits', 'trustedProxies', 'failureMode', 'inFlight', 'maxKeys'];
const limitKeys = [
  'name',
  'descriptor',
  'match',
  'scope',
  'requests',
  'per',
  'tokenBucket',
  'overrides',
  'shadow',
  'lease',
];
const kinds = ['subject', 'peer', 'clientAddress', 'route', 'global'] as const;
const units: Record<string, number> = { second: 1_000, minute: 60_000, hour: 3_600_000 };

/** Whether a shared scope is configured (Redis then has to be). */
export const usesSharedScope = (section: NormalizedRateLimits): boolean =>
  section.limits.some((limit) => limit.scope === 'shared');

export function checkRateLimits(
  value: unknown,
  path: string,
  issues: IssueList,
): NormalizedRateLimits | undefined {
  const input = checkObject(value, path, issues, sectionKeys);
  if (!input) return undefined;
  const limits = optional(input, 'limits', path, issues, arrayOf(checkLimit)) ?? [];
  const names = new Set<string>();
  limits.forEach((limit, index) => {
    if (names.has(limit.name))
      issues.add(
        join(path, `limits[${index}].name`),
        `"${limit.name}" is used twice; give each limit its own name`,
      );
    names.add(limit.name);
  });
  const inFlightInput = optional(input, 'inFlight', path, issues, (v, p, i) =>
    checkObject(v, p, i, ['max', 'retryAfter']),
  );
  let inFlight: NormalizedRateLimits['inFlight'];
  if (inFlightInput) {
    const inFlightPath = join(path, 'inFlight');
    const max = optional(inFlightInput, 'max', inFlightPath, issues, integer(1, 1_000_000));
    if (inFlightInput.max === undefined)
      issues.add(join(inFlightPath, 'max'), 'is required; use for example 64');
    const retryAfterMs = optional(inFlightInput, 'retryAfter', inFlightPath, issues, duration) ?? 1_000;
    if (max !== undefined) inFlight = { max, retryAfterS: Math.max(1, Math.ceil(retryAfterMs / 1000)) };
  }
  if (limits.length === 0 && !inFlight && input.limits === undefined)
    issues.add(path, 'sets no limit; add limits: [{ name, descriptor, requests, per }] or inFlight: { max }');
  return {
    limits,
    trustedProxies: optional(input, 'trustedProxies', path, issues, arrayOf(ipBlock)) ?? [],
    failureMode: optional(input, 'failureMode', path, issues, oneOf(['open', 'closed'] as const)) ?? 'open',
    inFlight,
    maxKeys: optional(input, 'maxKeys', path, issues, integer(1, 10_000_000)) ?? 10_000,
  };
}

const checkDescriptor: Checker<NormalizedDescriptor> = (value, path, issues) => {
  if (typeof value === 'string') {
    if ((kinds as readonly string[]).includes(value)) return { kind: value as (typeof kinds)[number] };
    return issues.add(
      path,
      `${describe(value)} is not a descriptor; use one of ${kinds.map((k) => `"${k}"`).join(', ')}, { claim: "tenant" } or { header: "x-api-key" }`,
    );
  }
  if (isPlainObject(value)) {
    const input = checkObject(value, path, issues, ['claim', 'header']);
    if (!input) return undefined;
    if (input.claim !== undefined && input.header === undefined) {
      const claim = optional(input, 'claim', path, issues, string('use a claim name such as "tenant"'));
      return claim === undefined ? undefined : { kind: 'claim', claim };
    }
    if (input.header !== undefined && input.claim === undefined) {
      const header = optional(input, 'header', path, issues, string('use a header name such as "x-api-key"'));
      return header === undefined ? undefined : { kind: 'header', header: header.toLowerCase() };
    }
    return issues.add(path, 'needs exactly one of claim or header, for example { claim: "tenant" }');
  }
  return issues.add(
    path,
    `${describe(value)} is not a descriptor; use "subject", "clientAddress", { claim: "tenant" }…`,
  );
};

const positiveNumber: Checker<number> = (value, path, issues) =>
  typeof value === 'number' && Number.isFinite(value) && value > 0
    ? value
    : issues.add(
        path,
        `${describe(value)} is not a limit; use a number above 0 (a limit of 0 would refuse everything: remove the route instead)`,
      );

/** `requests`/`per` or `tokenBucket`, as a bucket. */
export function checkSize(
  input: Record<string, unknown>,
  path: string,
  issues: IssueList,
): TokenBucketSpec | undefined {
  const hasRequests = input.requests !== undefined || input.per !== undefined;
  if (input.tokenBucket !== undefined && hasRequests) {
    issues.add(path, 'sets both requests/per and tokenBucket; keep one');
    return undefined;
  }
  if (input.tokenBucket !== undefined) {
    const bucketPath = join(path, 'tokenBucket');
    const bucket = checkObject(input.tokenBucket, bucketPath, issues, [
      'maxTokens',
      'tokensPerFill',
      'fillInterval',
    ]);
    if (!bucket) return undefined;
    const maxTokens = optional(bucket, 'maxTokens', bucketPath, issues, positiveNumber);
    if (bucket.maxTokens === undefined)
      issues.add(join(bucketPath, 'maxTokens'), 'is required; use for example 100');
    const tokensPerFill = optional(bucket, 'tokensPerFill', bucketPath, issues, positiveNumber) ?? maxTokens;
    const fillIntervalMs = optional(bucket, 'fillInterval', bucketPath, issues, positiveInterval);
    if (bucket.fillInterval === undefined)
      issues.add(join(bucketPath, 'fillInterval'), 'is required; use for example "1s"');
    if (maxTokens === undefined || tokensPerFill === undefined || fillIntervalMs === undefined)
      return undefined;
    return { maxTokens, tokensPerFill, fillIntervalMs };
  }
  const requests = optional(input, 'requests', path, issues, positiveNumber);
  if (input.requests === undefined) {
    issues.add(
      join(path, 'requests'),
      'is required (or tokenBucket); use for example requests: 100, per: "minute"',
    );
    return undefined;
  }
  const perMs = optional(input, 'per', path, issues, checkUnit);
  if (input.per === undefined) {
    issues.add(join(path, 'per'), 'is required; use "second", "minute", "hour" or a duration such as "10s"');
    return undefined;
  }
  if (requests === undefined || perMs === undefined) return undefined;
  return { maxTokens: requests, tokensPerFill: requests, fillIntervalMs: perMs };
}

const checkUnit: Checker<number> = (value, path, issues) => {
  if (typeof value === 'string' && units[value] !== undefined) return units[value];
  const ms =
    typeof value === 'string' || typeof value === 'number' ? positiveIntervalValue(value) : undefined;
  return ms !== undefined
    ? ms
    : issues.add(
        path,
        `${describe(value)} is not a unit; use "second", "minute", "hour" or a duration such as "10s"`,
      );
};

function positiveIntervalValue(value: unknown): number | undefined {
  const ms = parseDuration(value);
  return ms !== undefined && ms > 0 ? ms : undefined;
}

const positiveInterval: Checker<number> = (value, path, issues) =>
  positiveIntervalValue(value) ??
  issues.add(path, `${describe(value)} is not an interval; use "1s", "1m" or milliseconds above 0`);

const checkOverride: Checker<{ values: string[]; bucket: TokenBucketSpec }> = (value, path, issues) => {
  const input = checkObject(value, path, issues, ['values', 'requests', 'per', 'tokenBucket']);
  if (!input) return undefined;
  const values = optional(
    input,
    'values',
    path,
    issues,
    arrayOf(string('use a subject, a SPIFFE id or an address')),
  );
  if (input.values === undefined)
    issues.add(join(path, 'values'), 'is required; list the callers it applies to');
  const bucket = checkSize(input, path, issues);
  return values && bucket ? { values, bucket } : undefined;
};

const checkLimit: Checker<NormalizedLimit> = (value, path, issues) => {
  const input = checkObject(value, path, issues, limitKeys);
  if (!input) return undefined;
  const name = optional(input, 'name', path, issues, string('use a name such as "per-user"'));
  if (input.name === undefined) issues.add(join(path, 'name'), 'is required; use a name such as "per-user"');
  const descriptor = optional(input, 'descriptor', path, issues, checkDescriptor);
  if (input.descriptor === undefined)
    issues.add(
      join(path, 'descriptor'),
      'is required; use "subject", "clientAddress", "global", { claim: "tenant" }…',
    );
  const matchInput = optional(input, 'match', path, issues, (v, p, i) =>
    checkObject(v, p, i, ['methods', 'pathPrefix']),
  );
  const matchPath = join(path, 'match');
  const methods = matchInput
    ? optional(matchInput, 'methods', matchPath, issues, arrayOf(string('use a method such as "POST"')))?.map(
        (m) => m.toUpperCase(),
      )
    : undefined;
  const pathPrefix = matchInput
    ? optional(matchInput, 'pathPrefix', matchPath, issues, (v, p, i) =>
        typeof v === 'string' && v.startsWith('/')
          ? v
          : i.add(p, `${describe(v)} is not a path prefix; use one starting with "/", such as "/orders"`),
      )
    : undefined;
  if (descriptor?.kind === 'route' && methods === undefined && pathPrefix === undefined)
    issues.add(
      join(path, 'match'),
      'is required by the route descriptor; use match: { methods: ["POST"], pathPrefix: "/orders" }',
    );
  const bucket = checkSize(input, path, issues);
  const overrides = new Map<string, TokenBucketSpec>();
  for (const override of optional(input, 'overrides', path, issues, arrayOf(checkOverride)) ?? [])
    for (const key of override.values) overrides.set(key, override.bucket);
  const scope = optional(input, 'scope', path, issues, oneOf(['local', 'shared'] as const)) ?? 'local';
  const lease = optional(input, 'lease', path, issues, integer(1, 10_000)) ?? 1;
  if (input.lease !== undefined && scope !== 'shared')
    issues.add(join(path, 'lease'), 'applies to scope: "shared" only; remove it or set scope: "shared"');
  if (name === undefined || descriptor === undefined || bucket === undefined) return undefined;
  return {
    name,
    descriptor,
    methods,
    pathPrefix,
    scope,
    bucket,
    overrides,
    shadow: optional(input, 'shadow', path, issues, boolean) ?? false,
    lease,
  };
};

/** `2 per 60 s`, for messages. */
export function describeBucket(bucket: TokenBucketSpec): string {
  const window =
    bucket.fillIntervalMs % 1000 === 0 ? `${bucket.fillIntervalMs / 1000} s` : `${bucket.fillIntervalMs} ms`;
  return `${bucket.tokensPerFill} per ${window}`;
}
