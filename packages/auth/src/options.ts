import type { Duration } from '@sidecarless/core';
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
 * The `auth` options section: Istio's RequestAuthentication (`jwt`), AuthorizationPolicy
 * (`policies`) and PeerAuthentication (`peerAuthentication`), with Istio's field names where a
 * concept maps one to one. Everything is checked here, once: a field we do not support is an
 * error, never silently ignored, because an ignored security rule is an open door.
 */

/** Where a token is read from a header. */
export interface JwtHeaderLocation {
  /** Header name, for example `authorization`. */
  name: string;
  /** A prefix stripped before the token, for example `"Bearer "`. */
  prefix?: string;
}

/** One claim copied into a request header after verification. */
export interface ClaimToHeader {
  /** The header to set (any incoming value is replaced or removed). */
  header: string;
  /** The claim; nested claims with dots, for example `"realm.role"`. */
  claim: string;
}

/**
 * One trusted issuer (Istio's `jwtRules` entry).
 *
 * @example
 * ```ts
 * import type { JwtRule } from '@sidecarless/auth';
 *
 * const rule: JwtRule = {
 *   issuer: 'https://id.example.com',
 *   jwksUri: 'https://id.example.com/.well-known/jwks.json',
 *   audiences: ['orders'],
 *   required: true,
 *   outputClaimToHeaders: [{ header: 'x-user', claim: 'sub' }],
 * };
 * ```
 */
export interface JwtRule {
  /** The `iss` the token must carry. */
  issuer: string;
  /** Accepted `aud` values; a token must carry at least one. Default: any audience. */
  audiences?: readonly string[];
  /** Where the issuer publishes its keys (fetched at init, cached, refreshed on unknown `kid`). */
  jwksUri?: string;
  /** Inline JSON Web Key Set, as JSON text or an object. */
  jwks?: string | { keys: readonly object[] };
  /** Headers to read the token from. Default `[{ name: 'authorization', prefix: 'Bearer ' }]`. */
  fromHeaders?: readonly JwtHeaderLocation[];
  /** Query parameters to read the token from. */
  fromParams?: readonly string[];
  /** Cookies to read the token from. */
  fromCookies?: readonly string[];
  /** Keep the token on the request the handler sees. Default false: it is removed. */
  forwardOriginalToken?: boolean;
  /** Claims copied into request headers. */
  outputClaimToHeaders?: readonly ClaimToHeader[];
  /** A header that receives the verified payload, base64url-encoded JSON. */
  outputPayloadToHeader?: string;
  /** JWKS fetch timeout. Default `"5s"`. */
  timeout?: Duration;
  /**
   * A request without a token gets 401 (Envoy's requirement) instead of passing without identity.
   * When any rule sets it, a request carrying no token for any rule is refused.
   */
  required?: boolean;
  /** Accepted `alg` values. Default every asymmetric algorithm (RS*, PS*, ES*, EdDSA). */
  algorithms?: readonly string[];
  /** A shared secret for HS256/384/512. HMAC is accepted only when this is set. */
  sharedSecret?: string;
  /** Claims that hold space-delimited lists. `scope` and `scp` always do. */
  spaceDelimitedClaims?: readonly string[];
  /** How long fetched keys are used before a refresh. Default `"10m"`. */
  jwksMaxAge?: Duration;
  /** At most one refresh for an unknown `kid` per this interval. Default `"30s"`. */
  jwksRefreshCooldown?: Duration;
}

/**
 * Istio's `from[].source`: every field given must match; values within a field are alternatives.
 *
 * @example
 * ```ts
 * import type { PolicySource } from '@sidecarless/auth';
 *
 * const source: PolicySource = { principals: ['cluster.local/ns/shop/sa/*'], notIpBlocks: ['10.9.0.0/16'] };
 * ```
 */
export interface PolicySource {
  principals?: readonly string[];
  notPrincipals?: readonly string[];
  requestPrincipals?: readonly string[];
  notRequestPrincipals?: readonly string[];
  namespaces?: readonly string[];
  notNamespaces?: readonly string[];
  ipBlocks?: readonly string[];
  notIpBlocks?: readonly string[];
  remoteIpBlocks?: readonly string[];
  notRemoteIpBlocks?: readonly string[];
}

/**
 * Istio's `to[].operation`.
 *
 * @example
 * ```ts
 * import type { PolicyOperation } from '@sidecarless/auth';
 *
 * const operation: PolicyOperation = { methods: ['GET'], paths: ['/api/*'], notPaths: ['/api/admin/*'] };
 * ```
 */
export interface PolicyOperation {
  methods?: readonly string[];
  notMethods?: readonly string[];
  paths?: readonly string[];
  notPaths?: readonly string[];
  hosts?: readonly string[];
  notHosts?: readonly string[];
  ports?: readonly (string | number)[];
  notPorts?: readonly (string | number)[];
}

/**
 * Istio's `when[]` condition.
 *
 * @example
 * ```ts
 * import type { PolicyCondition } from '@sidecarless/auth';
 *
 * const condition: PolicyCondition = { key: 'request.auth.claims[scope]', values: ['orders:write'] };
 * ```
 */
export interface PolicyCondition {
  /** For example `request.auth.claims[groups]`, `request.headers[x-tenant]`, `source.ip`. */
  key: string;
  values?: readonly string[];
  notValues?: readonly string[];
}

/**
 * One rule: matches when any `from`, any `to` and every `when` match (absent parts match all).
 *
 * @example
 * ```ts
 * import type { PolicyRule } from '@sidecarless/auth';
 *
 * const rule: PolicyRule = {
 *   from: [{ source: { requestPrincipals: ['https://id.example.com/*'] } }],
 *   to: [{ operation: { methods: ['POST'], paths: ['/orders'] } }],
 * };
 * ```
 */
export interface PolicyRule {
  /** `[{ source: {…} }]` as in Istio; `[{ principals: […] }]` is accepted as a shorthand. */
  from?: readonly ({ source: PolicySource } | PolicySource)[];
  /** `[{ operation: {…} }]` as in Istio; `[{ methods: […] }]` is accepted as a shorthand. */
  to?: readonly ({ operation: PolicyOperation } | PolicyOperation)[];
  when?: readonly PolicyCondition[];
}

/**
 * Istio's AuthorizationPolicy, minus the selector (the function is the workload).
 *
 * @example
 * ```ts
 * import type { AuthorizationPolicy } from '@sidecarless/auth';
 *
 * const policy: AuthorizationPolicy = {
 *   name: 'no-admin-from-outside',
 *   action: 'DENY',
 *   rules: [{ from: [{ source: { notNamespaces: ['ops'] } }], to: [{ operation: { paths: ['/admin/*'] } }] }],
 * };
 * ```
 */
export interface AuthorizationPolicy {
  /** Shown in logs (never to the caller). Default `policy-<index>`. */
  name?: string;
  /** Default `ALLOW`. `CUSTOM` (external authorizers) is not supported. */
  action?: 'ALLOW' | 'DENY' | 'AUDIT';
  /** No rules: matches nothing. `[{}]`: matches every request. */
  rules?: readonly PolicyRule[];
}

/**
 * Istio's PeerAuthentication.
 *
 * @example
 * ```ts
 * import type { PeerAuthenticationOptions } from '@sidecarless/auth';
 *
 * const peer: PeerAuthenticationOptions = { mtls: { mode: 'STRICT' }, trustBundle: process.env.MESH_CA_PEM ?? '' };
 * ```
 */
export interface PeerAuthenticationOptions {
  mtls?: {
    /** `STRICT` refuses requests without a verified client certificate; `PERMISSIVE` accepts both. */
    mode?: 'STRICT' | 'PERMISSIVE';
  };
  /** CA certificates (PEM) that API Gateway and XFCC client certificates are re-verified against. */
  trustBundle?: string | readonly string[];
}

/**
 * The `auth` section of `createMesh` options (see docs/features/auth.md).
 *
 * @example
 * ```ts
 * import { auth } from '@sidecarless/auth';
 * import { createMesh } from '@sidecarless/core';
 *
 * const mesh = createMesh({
 *   service: 'orders',
 *   auth: {
 *     jwt: [{ issuer: 'https://id.example.com', jwksUri: 'https://id.example.com/jwks', audiences: ['orders'] }],
 *     policies: [{ action: 'ALLOW', rules: [{ when: [{ key: 'request.auth.claims[groups]', values: ['functions'] }] }] }],
 *   },
 * }, [auth]);
 * ```
 */
export interface AuthOptions {
  /** Trusted issuers (Istio RequestAuthentication `jwtRules`). */
  jwt?: readonly JwtRule[];
  /** Authorization policies (Istio AuthorizationPolicy), evaluated DENY → ALLOW; AUDIT logs. */
  policies?: readonly AuthorizationPolicy[];
  /** Peer (mTLS) identity. */
  peerAuthentication?: PeerAuthenticationOptions;
  /**
   * Proxies (IPs or CIDRs) whose `x-forwarded-client-cert` and `x-forwarded-for` are believed.
   * Default none: those headers are ignored.
   */
  trustedProxies?: readonly string[];
  /** Tolerance for `exp`, `nbf` and `iat`. Default `"60s"`. */
  clockSkew?: Duration;
  /** Longest token accepted, in bytes. Default 8192. */
  maxTokenSize?: number;
  /** Verified-token cache size (entries). 0 turns it off. Default 1000. */
  tokenCacheSize?: number;
}

export interface NormalizedJwtRule {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUri: string | undefined;
  readonly jwks: { readonly keys: readonly Record<string, unknown>[] } | undefined;
  readonly fromHeaders: readonly { readonly name: string; readonly prefix: string }[];
  readonly fromParams: readonly string[];
  readonly fromCookies: readonly string[];
  readonly forwardOriginalToken: boolean;
  readonly outputClaimToHeaders: readonly ClaimToHeader[];
  readonly outputPayloadToHeader: string | undefined;
  readonly timeoutMs: number;
  readonly required: boolean;
  readonly algorithms: readonly string[];
  readonly sharedSecret: string | undefined;
  readonly spaceDelimitedClaims: readonly string[];
  readonly jwksMaxAgeMs: number;
  readonly jwksRefreshCooldownMs: number;
}

export interface NormalizedSource {
  readonly principals?: readonly string[];
  readonly notPrincipals?: readonly string[];
  readonly requestPrincipals?: readonly string[];
  readonly notRequestPrincipals?: readonly string[];
  readonly namespaces?: readonly string[];
  readonly notNamespaces?: readonly string[];
  readonly ipBlocks?: readonly string[];
  readonly notIpBlocks?: readonly string[];
  readonly remoteIpBlocks?: readonly string[];
  readonly notRemoteIpBlocks?: readonly string[];
}

export interface NormalizedOperation {
  readonly methods?: readonly string[];
  readonly notMethods?: readonly string[];
  readonly paths?: readonly string[];
  readonly notPaths?: readonly string[];
  readonly hosts?: readonly string[];
  readonly notHosts?: readonly string[];
  readonly ports?: readonly string[];
  readonly notPorts?: readonly string[];
}

export interface NormalizedRule {
  readonly from: readonly NormalizedSource[] | undefined;
  readonly to: readonly NormalizedOperation[] | undefined;
  readonly when: readonly { key: string; values?: readonly string[]; notValues?: readonly string[] }[];
}

export interface NormalizedPolicy {
  readonly name: string;
  readonly action: 'ALLOW' | 'DENY' | 'AUDIT';
  readonly rules: readonly NormalizedRule[];
}

export interface NormalizedAuth {
  readonly jwt: readonly NormalizedJwtRule[];
  readonly policies: readonly NormalizedPolicy[];
  readonly mtlsMode: 'STRICT' | 'PERMISSIVE' | undefined;
  readonly trustBundle: readonly string[];
  readonly trustedProxies: readonly string[];
  readonly clockSkewMs: number;
  readonly maxTokenSize: number;
  readonly tokenCacheSize: number;
}

/** Every signature algorithm the verifier implements. */
export const asymmetricAlgorithms = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export const hmacAlgorithms = ['HS256', 'HS384', 'HS512'] as const;

const ruleKeys = [
  'issuer',
  'audiences',
  'jwksUri',
  'jwks',
  'fromHeaders',
  'fromParams',
  'fromCookies',
  'forwardOriginalToken',
  'outputClaimToHeaders',
  'outputPayloadToHeader',
  'timeout',
  'required',
  'algorithms',
  'sharedSecret',
  'spaceDelimitedClaims',
  'jwksMaxAge',
  'jwksRefreshCooldown',
];
const sourceKeys = [
  'principals',
  'notPrincipals',
  'requestPrincipals',
  'notRequestPrincipals',
  'namespaces',
  'notNamespaces',
  'ipBlocks',
  'notIpBlocks',
  'remoteIpBlocks',
  'notRemoteIpBlocks',
];
const operationKeys = [
  'methods',
  'notMethods',
  'paths',
  'notPaths',
  'hosts',
  'notHosts',
  'ports',
  'notPorts',
];
const ipKeys = new Set(['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']);

/** Condition keys understood in `when`; `[...]` parts are checked separately. */
const conditionKeys = [
  'request.auth.principal',
  'request.auth.audiences',
  'request.auth.presenter',
  'source.ip',
  'remote.ip',
  'source.principal',
  'source.namespace',
];
const claimKey = /^request\.auth\.claims(\[[^[\]]+\])+$/;
const headerKey = /^request\.headers\[[^[\]]+\]$/;

const nonEmptyStrings = arrayOf(string());
const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const header: Checker<string> = (value, path, issues) =>
  typeof value === 'string' && headerName.test(value)
    ? value.toLowerCase()
    : issues.add(path, `${describe(value)} is not a header name; use for example "x-jwt-payload"`);

export function checkAuth(value: unknown, path: string, issues: IssueList): NormalizedAuth | undefined {
  if (value === undefined) return undefined;
  const input = checkObject(value, path, issues, [
    'jwt',
    'policies',
    'peerAuthentication',
    'trustedProxies',
    'clockSkew',
    'maxTokenSize',
    'tokenCacheSize',
  ]);
  if (!input) return undefined;
  const jwt = optional(input, 'jwt', path, issues, arrayOf(checkRule)) ?? [];
  const issuers = new Set<string>();
  jwt.forEach((rule, index) => {
    if (issuers.has(rule.issuer))
      issues.add(`${path}.jwt[${index}].issuer`, `"${rule.issuer}" is configured twice; merge the rules`);
    issuers.add(rule.issuer);
  });
  const policies = optional(input, 'policies', path, issues, arrayOf(checkPolicy)) ?? [];
  policies.forEach((policy, index) => {
    if (policy.name === '') (policy as { name: string }).name = `policy-${index}`;
  });
  const peer = checkPeer(input.peerAuthentication, join(path, 'peerAuthentication'), issues);
  return {
    jwt,
    policies,
    mtlsMode: peer.mode,
    trustBundle: peer.trustBundle,
    trustedProxies: optional(input, 'trustedProxies', path, issues, arrayOf(ipBlock)) ?? [],
    clockSkewMs: optional(input, 'clockSkew', path, issues, duration) ?? 60_000,
    maxTokenSize: optional(input, 'maxTokenSize', path, issues, integer(64, 1_048_576)) ?? 8192,
    tokenCacheSize: optional(input, 'tokenCacheSize', path, issues, integer(0, 1_000_000)) ?? 1000,
  };
}

const checkRule: Checker<NormalizedJwtRule> = (value, path, issues) => {
  const input = checkObject(value, path, issues, ruleKeys);
  if (!input) return undefined;
  const issuer = optional(input, 'issuer', path, issues, string('use the iss of your tokens'));
  if (input.issuer === undefined) issues.add(join(path, 'issuer'), 'is required; use the iss of your tokens');
  const jwksUri = optional(input, 'jwksUri', path, issues, url);
  const jwks = optional(input, 'jwks', path, issues, inlineJwks);
  const sharedSecret = optional(input, 'sharedSecret', path, issues, secret);
  if (jwksUri === undefined && jwks === undefined && sharedSecret === undefined && issuer !== undefined) {
    issues.add(path, 'needs keys: set jwksUri, jwks or (for HMAC only) sharedSecret');
  }
  const algorithms = optional(input, 'algorithms', path, issues, arrayOf(algorithm));
  const hmacAllowed = algorithms?.filter((alg) => alg.startsWith('HS')) ?? [];
  if (hmacAllowed.length > 0 && sharedSecret === undefined) {
    issues.add(
      join(path, 'algorithms'),
      `${hmacAllowed.join(', ')} needs sharedSecret; HMAC is off without one`,
    );
  }
  const defaultAlgorithms: string[] = [...asymmetricAlgorithms];
  if (sharedSecret !== undefined) defaultAlgorithms.push(...hmacAlgorithms);
  const fromHeaders = optional(input, 'fromHeaders', path, issues, arrayOf(headerLocation));
  const fromParams = optional(input, 'fromParams', path, issues, nonEmptyStrings) ?? [];
  const fromCookies = optional(input, 'fromCookies', path, issues, nonEmptyStrings) ?? [];
  const noLocation = fromHeaders === undefined && fromParams.length === 0 && fromCookies.length === 0;
  if (issuer === undefined) return undefined;
  return {
    issuer,
    audiences: optional(input, 'audiences', path, issues, nonEmptyStrings) ?? [],
    jwksUri,
    jwks,
    fromHeaders: noLocation ? [{ name: 'authorization', prefix: 'Bearer ' }] : (fromHeaders ?? []),
    fromParams,
    fromCookies,
    forwardOriginalToken: optional(input, 'forwardOriginalToken', path, issues, boolean) ?? false,
    outputClaimToHeaders: optional(input, 'outputClaimToHeaders', path, issues, arrayOf(claimToHeader)) ?? [],
    outputPayloadToHeader: optional(input, 'outputPayloadToHeader', path, issues, header),
    timeoutMs: optional(input, 'timeout', path, issues, duration) ?? 5_000,
    required: optional(input, 'required', path, issues, boolean) ?? false,
    algorithms: algorithms ?? defaultAlgorithms,
    sharedSecret,
    spaceDelimitedClaims: [
      'scope',
      'scp',
      ...(optional(input, 'spaceDelimitedClaims', path, issues, nonEmptyStrings) ?? []),
    ],
    jwksMaxAgeMs: optional(input, 'jwksMaxAge', path, issues, duration) ?? 600_000,
    jwksRefreshCooldownMs: optional(input, 'jwksRefreshCooldown', path, issues, duration) ?? 30_000,
  };
};

const url: Checker<string> = (value, path, issues) => {
  if (typeof value === 'string' && URL.canParse(value)) {
    const protocol = new URL(value).protocol;
    if (protocol === 'https:' || protocol === 'http:') return value;
  }
  return issues.add(
    path,
    `${describe(value)} is not an http(s) URL; use "https://id.example.com/.well-known/jwks.json"`,
  );
};

const secret: Checker<string> = (value, path, issues) =>
  typeof value === 'string' && value.length >= 32
    ? value
    : issues.add(path, 'must be a string of at least 32 characters (256 bits); read it from a secret store');

const algorithm: Checker<string> = (value, path, issues) => {
  if (value === 'none') return issues.add(path, '"none" is never accepted: an unsigned token proves nothing');
  return oneOf<string>([...asymmetricAlgorithms, ...hmacAlgorithms])(value, path, issues);
};

const inlineJwks: Checker<{ keys: readonly Record<string, unknown>[] }> = (value, path, issues) => {
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return issues.add(path, 'is not valid JSON; expected a JWKS such as {"keys":[…]}');
    }
  }
  if (!isPlainObject(parsed) || !Array.isArray(parsed.keys) || !parsed.keys.every(isPlainObject)) {
    return issues.add(path, 'expected a JSON Web Key Set: { keys: [{ kty, kid, … }] }');
  }
  return parsed as { keys: Record<string, unknown>[] };
};

const headerLocation: Checker<{ name: string; prefix: string }> = (value, path, issues) => {
  const input = checkObject(value, path, issues, ['name', 'prefix']);
  if (!input) return undefined;
  const name = optional(input, 'name', path, issues, header);
  if (input.name === undefined) issues.add(join(path, 'name'), 'is required; for example "authorization"');
  const prefix = optional(input, 'prefix', path, issues, string('for example "Bearer "')) ?? '';
  return name === undefined ? undefined : { name, prefix };
};

const claimToHeader: Checker<ClaimToHeader> = (value, path, issues) => {
  const input = checkObject(value, path, issues, ['header', 'claim']);
  if (!input) return undefined;
  const name = optional(input, 'header', path, issues, header);
  const claim = optional(input, 'claim', path, issues, string('for example "sub"'));
  if (input.header === undefined) issues.add(join(path, 'header'), 'is required');
  if (input.claim === undefined) issues.add(join(path, 'claim'), 'is required');
  return name === undefined || claim === undefined ? undefined : { header: name, claim };
};

const checkPolicy: Checker<NormalizedPolicy> = (value, path, issues) => {
  if (isPlainObject(value) && value.action === 'CUSTOM') {
    return issues.add(
      join(path, 'action'),
      '"CUSTOM" (external authorizers) is not supported; use ALLOW, DENY or AUDIT, or a middleware stage',
    );
  }
  if (isPlainObject(value) && value.selector !== undefined) {
    return issues.add(
      join(path, 'selector'),
      'is not supported: the policy applies to this function; remove selector',
    );
  }
  const input = checkObject(value, path, issues, ['name', 'action', 'rules']);
  if (!input) return undefined;
  const name = optional(input, 'name', path, issues, string()) ?? '';
  const action =
    optional(input, 'action', path, issues, oneOf(['ALLOW', 'DENY', 'AUDIT'] as const)) ?? 'ALLOW';
  const rules = optional(input, 'rules', path, issues, arrayOf(checkPolicyRule)) ?? [];
  return { name, action, rules };
};

const checkPolicyRule: Checker<NormalizedRule> = (value, path, issues) => {
  const input = checkObject(value, path, issues, ['from', 'to', 'when']);
  if (!input) return undefined;
  const from = optional(input, 'from', path, issues, arrayOf(wrapped('source', sourceKeys, checkSource)));
  const to = optional(
    input,
    'to',
    path,
    issues,
    arrayOf(wrapped('operation', operationKeys, checkOperation)),
  );
  const when = optional(input, 'when', path, issues, arrayOf(checkCondition)) ?? [];
  return { from, to, when };
};

/** Accepts Istio's `{ source: {…} }` and the shorthand `{ principals: […] }`. */
function wrapped<T>(wrapper: string, keys: readonly string[], check: Checker<T>): Checker<T> {
  return (value, path, issues) => {
    if (isPlainObject(value) && wrapper in value) {
      const outer = checkObject(value, path, issues, [wrapper]);
      return outer ? check(outer[wrapper], join(path, wrapper), issues) : undefined;
    }
    if (
      isPlainObject(value) &&
      Object.keys(value).length > 0 &&
      !Object.keys(value).some((k) => keys.includes(k))
    ) {
      checkObject(value, path, issues, [wrapper, ...keys]);
      return undefined;
    }
    return check(value, path, issues);
  };
}

function checkFields(
  value: unknown,
  path: string,
  issues: IssueList,
  keys: readonly string[],
): Record<string, readonly string[]> | undefined {
  const input = checkObject(value, path, issues, keys);
  if (!input) return undefined;
  const out: Record<string, readonly string[]> = {};
  for (const key of keys) {
    if (input[key] === undefined) continue;
    const values =
      key === 'ports' || key === 'notPorts'
        ? optional(input, key, path, issues, arrayOf(port))
        : ipKeys.has(key)
          ? optional(input, key, path, issues, arrayOf(ipBlock))
          : optional(input, key, path, issues, nonEmptyStrings);
    if (values === undefined) continue;
    if (values.length === 0) {
      issues.add(join(path, key), 'is an empty list, which would match nothing; remove it or add values');
      continue;
    }
    out[key] = key === 'methods' || key === 'notMethods' ? values.map((m) => m.toUpperCase()) : values;
  }
  return out;
}

const checkSource: Checker<NormalizedSource> = (value, path, issues) =>
  checkFields(value, path, issues, sourceKeys);
const checkOperation: Checker<NormalizedOperation> = (value, path, issues) =>
  checkFields(value, path, issues, operationKeys);

const port: Checker<string> = (value, path, issues) => {
  const text = typeof value === 'number' ? String(value) : value;
  return typeof text === 'string' && /^\d{1,5}$/.test(text) && Number(text) <= 65_535
    ? text
    : issues.add(path, `${describe(value)} is not a port; use a number such as 8080`);
};

const checkCondition: Checker<NormalizedRule['when'][number]> = (value, path, issues) => {
  const input = checkObject(value, path, issues, ['key', 'values', 'notValues']);
  if (!input) return undefined;
  const key = optional(input, 'key', path, issues, string());
  if (input.key === undefined) issues.add(join(path, 'key'), 'is required');
  if (key !== undefined && !conditionKeys.includes(key) && !claimKey.test(key) && !headerKey.test(key)) {
    issues.add(
      join(path, 'key'),
      `${describe(key)} is not a supported condition key; use request.auth.claims[name], request.headers[name], ${conditionKeys.join(', ')}`,
    );
    return undefined;
  }
  const values = optional(input, 'values', path, issues, arrayOf(string()));
  const notValues = optional(input, 'notValues', path, issues, arrayOf(string()));
  if (values === undefined && notValues === undefined) {
    issues.add(path, 'needs values or notValues');
    return undefined;
  }
  if (key === undefined) return undefined;
  const condition: { key: string; values?: readonly string[]; notValues?: readonly string[] } = { key };
  if (values !== undefined) condition.values = values;
  if (notValues !== undefined) condition.notValues = notValues;
  return condition;
};

function checkPeer(
  value: unknown,
  path: string,
  issues: IssueList,
): { mode: 'STRICT' | 'PERMISSIVE' | undefined; trustBundle: readonly string[] } {
  const none = { mode: undefined, trustBundle: [] };
  if (value === undefined) return none;
  const input = checkObject(value, path, issues, ['mtls', 'trustBundle']);
  if (!input) return none;
  let mode: 'STRICT' | 'PERMISSIVE' | undefined;
  if (input.mtls !== undefined) {
    const mtls = checkObject(input.mtls, join(path, 'mtls'), issues, ['mode']);
    if (mtls?.mode === 'DISABLE' || mtls?.mode === 'UNSET') {
      issues.add(
        join(path, 'mtls.mode'),
        `"${mtls.mode}" is not supported; use STRICT or PERMISSIVE, or omit peerAuthentication`,
      );
    } else if (mtls) {
      mode = optional(mtls, 'mode', join(path, 'mtls'), issues, oneOf(['STRICT', 'PERMISSIVE'] as const));
    }
  }
  const bundle = input.trustBundle;
  let trustBundle: string[] = [];
  if (bundle !== undefined) {
    const list = typeof bundle === 'string' ? [bundle] : bundle;
    if (
      !Array.isArray(list) ||
      !list.every((pem) => typeof pem === 'string' && pem.includes('-----BEGIN CERTIFICATE-----'))
    ) {
      issues.add(join(path, 'trustBundle'), 'expected PEM CA certificate(s): "-----BEGIN CERTIFICATE-----…"');
    } else {
      trustBundle = list;
    }
  }
  return { mode, trustBundle };
}
