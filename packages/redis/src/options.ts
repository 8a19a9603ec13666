/**
 * The `redis` section: where the shared state lives and how long the mesh may wait for it.
 */
import {
  checkObject,
  duration,
  type IssueList,
  integer,
  isPlainObject,
  join,
  optional,
  string,
} from '@sidecarless/core/feature';

/** The `redis` section. */
export interface RedisOptions {
  /**
   * `redis://host:6379/0`, or `rediss://` for TLS (ElastiCache and MemoryDB with in-transit
   * encryption). A user name may be in the URL; a password may not — give it as `password`.
   */
  url: string;
  /** The ACL user (Redis 6+), when not in the URL. Default `default`. */
  username?: string;
  /**
   * AUTH's password: `{ env: 'REDIS_PASSWORD' }` reads it from the environment at `createMesh`
   * (a Lambda environment variable, a Kubernetes secret); a string is used as it is. Never logged.
   */
  password?: string | { env: string };
  /** TLS settings for `rediss://`: a private CA (PEM), the name to verify. */
  tls?: { ca?: string | readonly string[]; servername?: string };
  /**
   * How long one check may wait for Redis before the mesh decides without it. Default `5ms`: a
   * round trip in the same availability zone is well under 1 ms.
   */
  timeout?: string | number;
  /** How long connecting at init may hold the first invocation. Default `1s`. */
  connectTimeout?: string | number;
  /**
   * The breaker around Redis: after `consecutiveFailures` failed calls (default 3) no call goes
   * to Redis for `openFor` (default `1s`); then one call tries it again.
   */
  breaker?: { consecutiveFailures?: number; openFor?: string | number };
  /** Prefix of every key the mesh writes. Default `sidecarless:`. */
  keyPrefix?: string;
}

/** The checked `redis` section. */
export interface NormalizedRedis {
  /** The URL without credentials: what logs and errors show. */
  readonly shownUrl: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly tls: boolean;
  readonly ca: readonly string[] | undefined;
  readonly servername: string | undefined;
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly consecutiveFailures: number;
  readonly openForMs: number;
  readonly keyPrefix: string;
}

const keys = ['url', 'username', 'password', 'tls', 'timeout', 'connectTimeout', 'breaker', 'keyPrefix'];

/** Checks the section; `env` is where `password.env` is read. */
export function checkRedis(
  value: unknown,
  path: string,
  issues: IssueList,
  env: NodeJS.ProcessEnv,
): NormalizedRedis | undefined {
  const input = checkObject(value, path, issues, keys);
  if (!input) return undefined;
  const raw = input.url;
  let url: URL | undefined;
  if (typeof raw !== 'string' || raw === '') {
    issues.add(join(path, 'url'), 'is required; use "redis://host:6379" or "rediss://host:6379" for TLS');
  } else {
    try {
      url = new URL(raw);
    } catch {
      // The URL may hold a password: it is never echoed.
      issues.add(join(path, 'url'), 'is not a URL; use "redis://host:6379" or "rediss://host:6379" for TLS');
    }
  }
  if (url && url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    issues.add(join(path, 'url'), `has the scheme "${url.protocol}"; use redis:// or rediss:// (TLS)`);
    url = undefined;
  }
  if (url && url.password !== '') {
    url.password = '***';
    issues.add(
      join(path, 'url'),
      `carries a password in plain text (${url.href}); remove it from the URL and give it as ${join(path, 'password')}: { env: "REDIS_PASSWORD" }, so it never reaches logs or configuration dumps`,
    );
    url = undefined;
  }
  const db = url && url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (url && (!Number.isInteger(db) || db < 0)) {
    issues.add(join(path, 'url'), `names the database "${url.pathname.slice(1)}"; use a number such as /0`);
  }
  let password: string | undefined;
  const given = input.password;
  if (typeof given === 'string' && given !== '') password = given;
  else if (isPlainObject(given)) {
    const from = checkObject(given, join(path, 'password'), issues, ['env']);
    const name =
      from && optional(from, 'env', join(path, 'password'), issues, string('use "REDIS_PASSWORD"'));
    if (name !== undefined) {
      password = env[name];
      if (password === undefined || password === '')
        issues.add(
          join(path, 'password.env'),
          `names ${name}, which is not set; set it or name another variable`,
        );
    }
  } else if (given !== undefined) {
    issues.add(join(path, 'password'), 'expected a string or { env: "REDIS_PASSWORD" }');
  }
  const tlsInput = optional(input, 'tls', path, issues, (tlsValue, tlsPath, tlsIssues) =>
    checkObject(tlsValue, tlsPath, tlsIssues, ['ca', 'servername']),
  );
  if (tlsInput && url && url.protocol !== 'rediss:') {
    issues.add(join(path, 'tls'), 'is set but the URL is redis://; use rediss:// so the connection is TLS');
  }
  const caValue = tlsInput?.ca;
  const ca =
    caValue === undefined
      ? undefined
      : (Array.isArray(caValue) ? caValue : [caValue]).filter((pem): pem is string => {
          const ok = typeof pem === 'string' && pem.includes('-----BEGIN CERTIFICATE-----');
          if (!ok)
            issues.add(join(path, 'tls.ca'), 'expected PEM certificates ("-----BEGIN CERTIFICATE-----…")');
          return ok;
        });
  const servername = tlsInput
    ? optional(tlsInput, 'servername', join(path, 'tls'), issues, string())
    : undefined;
  const breaker = optional(input, 'breaker', path, issues, (breakerValue, breakerPath, breakerIssues) =>
    checkObject(breakerValue, breakerPath, breakerIssues, ['consecutiveFailures', 'openFor']),
  );
  const bpath = join(path, 'breaker');
  const normalized = {
    shownUrl: url
      ? `${url.protocol}//${url.username ? `${url.username}@` : ''}${url.host}${url.pathname}`
      : '',
    host: url?.hostname.replace(/^\[|\]$/g, '') ?? '',
    port: url ? Number(url.port || 6379) : 6379,
    db,
    tls: url?.protocol === 'rediss:',
    ca,
    servername,
    username:
      optional(input, 'username', path, issues, string('use the ACL user name')) ??
      (url?.username ? decodeURIComponent(url.username) : undefined),
    password,
    timeoutMs: optional(input, 'timeout', path, issues, positiveDuration) ?? 5,
    connectTimeoutMs: optional(input, 'connectTimeout', path, issues, positiveDuration) ?? 1_000,
    consecutiveFailures:
      (breaker && optional(breaker, 'consecutiveFailures', bpath, issues, integer(1, 1_000))) ?? 3,
    openForMs: (breaker && optional(breaker, 'openFor', bpath, issues, positiveDuration)) ?? 1_000,
    keyPrefix:
      optional(input, 'keyPrefix', path, issues, string('use a prefix such as "orders:"')) ?? 'sidecarless:',
  };
  return url ? normalized : undefined;
}

const positiveDuration = (value: unknown, path: string, issues: IssueList): number | undefined => {
  const ms = duration(value, path, issues);
  if (ms === undefined) return undefined;
  return ms > 0 ? ms : issues.add(path, 'must be longer than 0; use "5ms" or more');
};
