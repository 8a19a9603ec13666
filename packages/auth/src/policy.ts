/**
 * Authorization policies, compiled once into predicates and evaluated in Istio's order:
 * a matching DENY policy denies; then, if any ALLOW policy exists, the request must match one;
 * AUDIT policies only log. Anything that cannot be evaluated denies.
 */
import type { AuthInfo, PeerIdentity } from '@sidecarless/core';
import { ipMatcher } from '@sidecarless/core/feature';
import type { NormalizedOperation, NormalizedPolicy, NormalizedRule, NormalizedSource } from './options.js';

/** What a policy can look at, gathered once per request. */
export interface RequestAttributes {
  readonly method: string;
  readonly path: string;
  /** Host without port, lower case. */
  readonly host: string;
  readonly port: string;
  readonly headers: { get(name: string): string | null };
  readonly auth: AuthInfo | undefined;
  readonly peer: PeerIdentity | undefined;
  /** The direct peer's address. */
  readonly sourceIp: string | undefined;
  /** The original client's address (from a trusted proxy's x-forwarded-for), else `sourceIp`. */
  readonly remoteIp: string | undefined;
}

/** The outcome of evaluating every policy. */
export interface Decision {
  readonly allowed: boolean;
  /** The policy that decided (the DENY that matched, the ALLOW that matched), if one did. */
  readonly policy: string | undefined;
  /** AUDIT policies that matched. */
  readonly audited: readonly string[];
}

type Predicate = (attributes: RequestAttributes) => boolean;

/** Istio's string match: exact, `prefix*`, `*suffix`, or `*` (any non-empty value). */
export function stringMatcher(pattern: string, caseInsensitive = false): (value: string) => boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const fold = caseInsensitive ? (value: string) => value.toLowerCase() : (value: string) => value;
  if (p === '*') return (value) => value.length > 0;
  if (p.endsWith('*')) {
    const prefix = p.slice(0, -1);
    return (value) => fold(value).startsWith(prefix);
  }
  if (p.startsWith('*')) {
    const suffix = p.slice(1);
    return (value) => fold(value).endsWith(suffix);
  }
  return (value) => fold(value) === p;
}

// Plain loops rather than `.some(closure)` on this path, and cheap checks first: see the
// ten-rule table in bench/auth.bench.ts.
function anyOf(patterns: readonly string[]): (value: string | undefined) => boolean {
  const matchers = patterns.map((pattern) => stringMatcher(pattern));
  if (matchers.length === 1) {
    const only = matchers[0]!;
    return (value) => value !== undefined && only(value);
  }
  return (value) => {
    if (value === undefined) return false;
    for (const match of matchers) if (match(value)) return true;
    return false;
  };
}

function some(predicates: readonly Predicate[]): Predicate {
  if (predicates.length === 1) return predicates[0]!;
  return (attributes) => {
    for (const predicate of predicates) if (predicate(attributes)) return true;
    return false;
  };
}

/** `positive` must match (when given) and `negative` must not (when given). */
function field<T>(
  positive: readonly string[] | undefined,
  negative: readonly string[] | undefined,
  read: (attributes: RequestAttributes) => T,
  make: (patterns: readonly string[]) => (value: T) => boolean,
): Predicate | undefined {
  if (positive === undefined && negative === undefined) return undefined;
  const yes = positive && make(positive);
  const no = negative && make(negative);
  return (attributes) => {
    const value = read(attributes);
    if (yes && !yes(value)) return false;
    if (no?.(value)) return false;
    return true;
  };
}

function all(predicates: readonly (Predicate | undefined)[]): Predicate {
  const list = predicates.filter((p): p is Predicate => p !== undefined);
  if (list.length === 0) return () => true;
  if (list.length === 1) return list[0]!;
  return (attributes) => {
    for (const predicate of list) if (!predicate(attributes)) return false;
    return true;
  };
}

function compileSource(source: NormalizedSource): Predicate {
  return all([
    field(source.principals, source.notPrincipals, (a) => a.peer?.principal, anyOf),
    field(source.requestPrincipals, source.notRequestPrincipals, (a) => a.auth?.principal, anyOf),
    field(source.namespaces, source.notNamespaces, (a) => a.peer?.namespace, anyOf),
    field(source.ipBlocks, source.notIpBlocks, (a) => a.sourceIp, ipMatcher),
    field(source.remoteIpBlocks, source.notRemoteIpBlocks, (a) => a.remoteIp, ipMatcher),
  ]);
}

function compileOperation(operation: NormalizedOperation): Predicate {
  return all([
    field(operation.methods, operation.notMethods, (a) => a.method, anyOf),
    field(operation.paths, operation.notPaths, (a) => a.path, anyOf),
    field(
      operation.hosts,
      operation.notHosts,
      (a) => a.host,
      // The request's host is lower-cased once per request; the patterns once here.
      (patterns) => anyOf(patterns.map((pattern) => pattern.toLowerCase())),
    ),
    field(operation.ports, operation.notPorts, (a) => a.port, anyOf),
  ]);
}

/** Reads `[a][b]` claim paths; arrays yield every element, space-delimited claims every word. */
function claimReader(path: readonly string[], spaceDelimited: ReadonlySet<string>) {
  return (attributes: RequestAttributes): string[] | undefined => {
    let value: unknown = attributes.auth?.claims;
    for (const part of path) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      value = (value as Record<string, unknown>)[part];
    }
    if (value === undefined || value === null) return undefined;
    const last = path[path.length - 1]!;
    if (typeof value === 'string')
      return spaceDelimited.has(last) ? value.split(' ').filter(Boolean) : [value];
    if (typeof value === 'number' || typeof value === 'boolean') return [String(value)];
    if (Array.isArray(value)) return value.filter((v) => typeof v !== 'object').map(String);
    return undefined;
  };
}

function conditionReader(
  key: string,
  spaceDelimited: ReadonlySet<string>,
): (a: RequestAttributes) => string[] | undefined {
  const one = (value: string | undefined) => (value === undefined ? undefined : [value]);
  if (key.startsWith('request.auth.claims[')) {
    const parts = key.slice('request.auth.claims'.length).slice(1, -1).split('][');
    return claimReader(parts, spaceDelimited);
  }
  if (key.startsWith('request.headers[')) {
    const name = key.slice('request.headers['.length, -1).toLowerCase();
    return (a) => one(a.headers.get(name) ?? undefined);
  }
  switch (key) {
    case 'request.auth.principal':
      return (a) => one(a.auth?.principal);
    case 'request.auth.audiences':
      return (a) => (a.auth ? [...a.auth.audiences] : undefined);
    case 'request.auth.presenter':
      return (a) => {
        const azp = a.auth?.claims.azp;
        return typeof azp === 'string' ? [azp] : undefined;
      };
    case 'source.principal':
      return (a) => one(a.peer?.principal);
    case 'source.namespace':
      return (a) => one(a.peer?.namespace);
    default:
      // The options check admits no other key; reaching here is a bug, and a bug must deny.
      throw new Error(`unsupported condition key ${key}`);
  }
}

function compileCondition(
  condition: NormalizedRule['when'][number],
  spaceDelimited: ReadonlySet<string>,
): Predicate {
  const { key, values, notValues } = condition;
  if (key === 'source.ip' || key === 'remote.ip') {
    const read =
      key === 'source.ip' ? (a: RequestAttributes) => a.sourceIp : (a: RequestAttributes) => a.remoteIp;
    return field(values, notValues, read, ipMatcher)!;
  }
  const read = conditionReader(key, spaceDelimited);
  const yes = values && anyOf(values);
  const no = notValues && anyOf(notValues);
  const anyFound = (found: string[] | undefined, match: (value: string) => boolean) => {
    if (found === undefined) return false;
    for (const value of found) if (match(value)) return true;
    return false;
  };
  return (attributes) => {
    const found = read(attributes);
    if (yes && !anyFound(found, yes)) return false;
    if (no && anyFound(found, no)) return false;
    return true;
  };
}

function compileRule(rule: NormalizedRule, spaceDelimited: ReadonlySet<string>): Predicate {
  const from = rule.from?.map(compileSource);
  const to = rule.to?.map(compileOperation);
  const when = rule.when.map((condition) => compileCondition(condition, spaceDelimited));
  // Operation checks first: they read plain strings, while sources may parse addresses and
  // conditions may read headers or walk claims. The order cannot change the result (all must hold).
  return all([to && some(to), from && some(from), ...when]);
}

interface CompiledPolicy {
  readonly name: string;
  readonly matches: Predicate;
}

function compilePolicy(policy: NormalizedPolicy, spaceDelimited: ReadonlySet<string>): CompiledPolicy {
  const rules = policy.rules.map((rule) => compileRule(rule, spaceDelimited));
  // No rules matches nothing (Istio): an ALLOW policy without rules allows nothing.
  return { name: policy.name, matches: rules.length === 0 ? () => false : some(rules) };
}

/**
 * Compiles `policies` into one evaluator.
 *
 * @example
 * ```ts no-check
 * const evaluate = compilePolicies(options.auth.policies, new Set(['scope']));
 * const decision = evaluate(attributes); // { allowed, policy, audited }
 * ```
 */
export function compilePolicies(
  policies: readonly NormalizedPolicy[],
  spaceDelimited: ReadonlySet<string>,
): (attributes: RequestAttributes) => Decision {
  const deny = policies.filter((p) => p.action === 'DENY').map((p) => compilePolicy(p, spaceDelimited));
  const allow = policies.filter((p) => p.action === 'ALLOW').map((p) => compilePolicy(p, spaceDelimited));
  const audit = policies.filter((p) => p.action === 'AUDIT').map((p) => compilePolicy(p, spaceDelimited));
  const none: readonly string[] = [];
  return (attributes) => {
    try {
      let audited = none;
      for (const policy of audit) if (policy.matches(attributes)) audited = [...audited, policy.name];
      for (const policy of deny)
        if (policy.matches(attributes)) return { allowed: false, policy: policy.name, audited };
      if (allow.length === 0) return { allowed: true, policy: undefined, audited };
      for (const policy of allow)
        if (policy.matches(attributes)) return { allowed: true, policy: policy.name, audited };
      return { allowed: false, policy: undefined, audited };
    } catch {
      // Fail closed: a policy that cannot be evaluated never allows.
      return { allowed: false, policy: 'evaluation-error', audited: none };
    }
  };
}
