/**
 * The traffic keys of an upstream, in Istio's vocabulary (VirtualService `http` routes,
 * DestinationRule `subsets`, `loadBalancer.consistentHash`), checked and compiled once at
 * `createMesh`: regular expressions are compiled here, never per call, and every mistake is a
 * `ConfigError` naming the path and the fix.
 */
import {
  arrayOf,
  type Checker,
  checkObject,
  describe,
  duration,
  type IssueList,
  integer,
  isPlainObject,
  join,
  optional,
  string,
} from '@sidecarless/core/feature';

/** An Istio `StringMatch`: exactly one of `exact`, `prefix`, `regex`. */
export interface StringMatchOptions {
  exact?: string;
  prefix?: string;
  regex?: string;
}

/** A VirtualService `HTTPMatchRequest`. Every condition given must hold. */
export interface RouteMatchOptions {
  name?: string;
  uri?: StringMatchOptions;
  method?: StringMatchOptions;
  headers?: Readonly<Record<string, StringMatchOptions>>;
  withoutHeaders?: Readonly<Record<string, StringMatchOptions>>;
  queryParams?: Readonly<Record<string, StringMatchOptions>>;
  ignoreUriCase?: boolean;
  /** Matched against this function's own labels (`traffic` feature's `labels`). */
  sourceLabels?: Readonly<Record<string, string>>;
}

/** Header edits, as VirtualService `Headers.HeaderOperations`. */
export interface HeaderOperationsOptions {
  set?: Readonly<Record<string, string>>;
  add?: Readonly<Record<string, string>>;
  remove?: readonly string[];
}

/** One weighted destination of a route. */
export interface RouteDestinationOptions {
  destination: { subset?: string; host?: string };
  /** Percent; the weights of a route add up to 100. One destination alone may omit it. */
  weight?: number;
  headers?: { request?: HeaderOperationsOptions; response?: HeaderOperationsOptions };
}

/** Fault injection (VirtualService `HTTPFaultInjection`). */
export interface FaultOptions {
  delay?: { fixedDelay: string | number; percentage?: { value: number } };
  abort?: { httpStatus: number; percentage?: { value: number } };
}

/** A VirtualService `HTTPRoute`: the first whose `match` holds decides a call. */
export interface HttpRouteOptions {
  name?: string;
  match?: readonly RouteMatchOptions[];
  route?: readonly RouteDestinationOptions[];
  rewrite?: { uri?: string; authority?: string };
  headers?: { request?: HeaderOperationsOptions; response?: HeaderOperationsOptions };
  timeout?: string | number;
  retries?: { attempts?: number; perTryTimeout?: string | number };
  fault?: FaultOptions;
  directResponse?: { status: number; body?: { string?: string } };
  redirect?: { uri?: string; authority?: string; redirectCode?: number };
  /** A copy of each call goes here too; its answer never reaches the caller. */
  mirror?: { subset?: string; host?: string };
  /** The share of calls mirrored; default 100. */
  mirrorPercentage?: { value: number };
  /** Several mirrors, each with its own share (Istio's newer form). */
  mirrors?: readonly { destination: { subset?: string; host?: string }; percentage?: { value: number } }[];
}

/** A DestinationRule subset: a version of the upstream at endpoints of its own. */
export interface SubsetOptions {
  name: string;
  labels?: Readonly<Record<string, string>>;
  /** Where this subset answers: a revision's URL (Knative), a function alias, a deployment. */
  url?: string;
  endpoints?: string | readonly string[];
  /** Overrides of the upstream's pool, TLS, outlier detection, breaker and load balancer for this subset. */
  trafficPolicy?: Readonly<Record<string, unknown>>;
}

/** How the same caller lands on the same destination, from every instance (pure hash). */
export interface ConsistentHashOptions {
  httpHeaderName?: string;
  httpCookie?: { name: string };
  /** Hash the invocation's trace id. */
  useTraceId?: boolean;
}

// --- normalized ------------------------------------------------------------------------------------

export type StringMatcher = (value: string | undefined) => boolean;

export interface CompiledMatch {
  readonly uri: StringMatcher | undefined;
  readonly method: StringMatcher | undefined;
  readonly headers: readonly (readonly [name: string, match: StringMatcher])[];
  readonly withoutHeaders: readonly (readonly [name: string, match: StringMatcher])[];
  readonly queryParams: readonly (readonly [name: string, match: StringMatcher])[];
  readonly sourceLabels: readonly (readonly [name: string, value: string])[];
  /** For a prefix `rewrite.uri`: the prefix this match matched, to replace. */
  readonly uriPrefix: string | undefined;
}

export interface HeaderOperations {
  readonly set: readonly (readonly [string, string])[];
  readonly add: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
}

export interface CompiledDestination {
  /** A subset of this upstream, or undefined for its own endpoints. */
  readonly subset: string | undefined;
  /** Another upstream, by name. */
  readonly host: string | undefined;
  /** Cumulative upper bound of this destination's share, in [0, 100]. */
  readonly upTo: number;
  readonly requestHeaders: HeaderOperations | undefined;
  readonly responseHeaders: HeaderOperations | undefined;
}

export interface CompiledFault {
  readonly delayMs: number | undefined;
  readonly delayPercent: number;
  readonly abortStatus: number | undefined;
  readonly abortPercent: number;
}

export interface CompiledRoute {
  readonly name: string;
  /** Any one of them must hold; empty means every call matches. */
  readonly matches: readonly CompiledMatch[];
  readonly destinations: readonly CompiledDestination[];
  readonly rewriteUri: string | undefined;
  readonly rewriteAuthority: string | undefined;
  readonly requestHeaders: HeaderOperations | undefined;
  readonly responseHeaders: HeaderOperations | undefined;
  readonly timeoutMs: number | undefined;
  readonly retries:
    | { readonly attempts: number | undefined; readonly perTryTimeoutMs: number | undefined }
    | undefined;
  readonly fault: CompiledFault | undefined;
  readonly directResponse: { readonly status: number; readonly body: string } | undefined;
  readonly redirect:
    | { readonly uri: string | undefined; readonly authority: string | undefined; readonly code: number }
    | undefined;
  readonly mirrors: readonly CompiledMirror[];
}

/** A mirror of a route: where copies go, and what share of calls. */
export interface CompiledMirror {
  readonly subset: string | undefined;
  readonly host: string | undefined;
  readonly percent: number;
}

export interface NormalizedSubset {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The subset's raw endpoint settings, checked by outbound like an upstream's own. */
  readonly endpoints: readonly string[];
  /** Raw overrides of the upstream's policies, checked by outbound as the upstream's own keys. */
  readonly trafficPolicy: Readonly<Record<string, unknown>>;
}

export interface NormalizedTraffic {
  readonly routes: readonly CompiledRoute[];
  readonly subsets: readonly NormalizedSubset[];
  readonly consistentHash:
    | { readonly header: string }
    | { readonly cookie: string }
    | { readonly traceId: true }
    | undefined;
}

// --- checking ----------------------------------------------------------------------------------------

const stringMatchKeys = ['exact', 'prefix', 'regex'] as const;

/** Compiles an Istio StringMatch. `ignoreCase` for `ignoreUriCase`. */
function stringMatch(ignoreCase: boolean): Checker<{ match: StringMatcher; prefix: string | undefined }> {
  return (value, path, issues) => {
    const input = checkObject(value, path, issues, stringMatchKeys);
    if (!input) return undefined;
    const given = stringMatchKeys.filter((key) => input[key] !== undefined);
    if (given.length !== 1)
      return issues.add(path, 'set exactly one of exact, prefix or regex, for example { prefix: "/v2/" }');
    const kind = given[0]!;
    const text = input[kind];
    if (typeof text !== 'string')
      return issues.add(join(path, kind), `${describe(text)} is not a string; use { ${kind}: "…" }`);
    if (kind === 'regex') {
      let pattern: RegExp;
      try {
        // Istio's regexes (RE2) match the whole value.
        pattern = new RegExp(`^(?:${text})$`, ignoreCase ? 'i' : '');
      } catch (error) {
        return issues.add(
          join(path, 'regex'),
          `is not a valid regular expression: ${(error as Error).message}`,
        );
      }
      return { match: (v) => v !== undefined && pattern.test(v), prefix: undefined };
    }
    const wanted = ignoreCase ? text.toLowerCase() : text;
    const fold = ignoreCase ? (v: string) => v.toLowerCase() : (v: string) => v;
    return kind === 'exact'
      ? { match: (v) => v !== undefined && fold(v) === wanted, prefix: undefined }
      : { match: (v) => v !== undefined && fold(v).startsWith(wanted), prefix: text };
  };
}

function namedMatches(
  value: unknown,
  path: string,
  issues: IssueList,
  lowerNames: boolean,
): (readonly [string, StringMatcher])[] {
  if (!isPlainObject(value)) {
    issues.add(path, `expected an object of name → { exact | prefix | regex }, got ${describe(value)}`);
    return [];
  }
  const out: (readonly [string, StringMatcher])[] = [];
  for (const [name, match] of Object.entries(value)) {
    const checked = stringMatch(false)(match, join(path, name), issues);
    if (checked) out.push([lowerNames ? name.toLowerCase() : name, checked.match]);
  }
  return out;
}

/** An object of label → value (`sourceLabels`, the `traffic` section's `labels`). */
export const labelMap: Checker<Record<string, string>> = (value, path, issues) => {
  if (!isPlainObject(value))
    return issues.add(path, 'expected an object of label → value, for example { app: "checkout" }');
  const labels: Record<string, string> = {};
  for (const [name, label] of Object.entries(value)) {
    if (typeof label === 'string') labels[name] = label;
    else issues.add(join(path, name), `${describe(label)} is not a string`);
  }
  return labels;
};

const matchKeys = [
  'name',
  'uri',
  'method',
  'headers',
  'withoutHeaders',
  'queryParams',
  'ignoreUriCase',
  'sourceLabels',
] as const;

const routeMatch: Checker<CompiledMatch> = (value, path, issues) => {
  const input = checkObject(value, path, issues, matchKeys);
  if (!input) return undefined;
  const ignoreUriCase = input.ignoreUriCase === true;
  if (input.ignoreUriCase !== undefined && typeof input.ignoreUriCase !== 'boolean')
    issues.add(join(path, 'ignoreUriCase'), 'is not a boolean; use true or false');
  const uri = optional(input, 'uri', path, issues, stringMatch(ignoreUriCase));
  const method = optional(input, 'method', path, issues, stringMatch(false));
  const sourceLabels = Object.entries(optional(input, 'sourceLabels', path, issues, labelMap) ?? {});
  return {
    uri: uri?.match,
    method: method?.match,
    headers:
      input.headers === undefined ? [] : namedMatches(input.headers, join(path, 'headers'), issues, true),
    withoutHeaders:
      input.withoutHeaders === undefined
        ? []
        : namedMatches(input.withoutHeaders, join(path, 'withoutHeaders'), issues, true),
    queryParams:
      input.queryParams === undefined
        ? []
        : namedMatches(input.queryParams, join(path, 'queryParams'), issues, false),
    sourceLabels,
    uriPrefix: uri?.prefix,
  };
};

const headerOperationKeys = ['set', 'add', 'remove'] as const;

const headerOperations: Checker<HeaderOperations> = (value, path, issues) => {
  const input = checkObject(value, path, issues, headerOperationKeys);
  if (!input) return undefined;
  const pairs = (key: 'set' | 'add') => {
    const map = input[key];
    if (map === undefined) return [];
    if (!isPlainObject(map)) {
      issues.add(join(path, key), 'expected an object of header → value, for example { "x-version": "v2" }');
      return [];
    }
    const out: (readonly [string, string])[] = [];
    for (const [name, text] of Object.entries(map)) {
      if (typeof text === 'string') out.push([name.toLowerCase(), text]);
      else issues.add(join(join(path, key), name), `${describe(text)} is not a string`);
    }
    return out;
  };
  const remove = optional(input, 'remove', path, issues, arrayOf(string('use a header name'))) ?? [];
  return { set: pairs('set'), add: pairs('add'), remove: remove.map((name) => name.toLowerCase()) };
};

function headerPair(
  value: unknown,
  path: string,
  issues: IssueList,
): { request: HeaderOperations | undefined; response: HeaderOperations | undefined } {
  const input = checkObject(value, path, issues, ['request', 'response']);
  return {
    request: input ? optional(input, 'request', path, issues, headerOperations) : undefined,
    response: input ? optional(input, 'response', path, issues, headerOperations) : undefined,
  };
}

/** A percentage `{ value }` (Istio's `Percent`), 0–100. */
const percentage: Checker<number> = (value, path, issues) => {
  const input = checkObject(value, path, issues, ['value']);
  if (!input) return undefined;
  const percent = input.value;
  if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100)
    return issues.add(
      join(path, 'value'),
      `${describe(percent)} is not a percentage from 0 to 100, for example 10`,
    );
  return percent;
};

const fault: Checker<CompiledFault> = (value, path, issues) => {
  const input = checkObject(value, path, issues, ['delay', 'abort']);
  if (!input) return undefined;
  let delayMs: number | undefined;
  let delayPercent = 100;
  let abortStatus: number | undefined;
  let abortPercent = 100;
  if (input.delay !== undefined) {
    const delay = checkObject(input.delay, join(path, 'delay'), issues, ['fixedDelay', 'percentage']);
    if (delay) {
      if (delay.fixedDelay === undefined) issues.add(join(path, 'delay.fixedDelay'), 'is required; use "2s"');
      else delayMs = duration(delay.fixedDelay, join(path, 'delay.fixedDelay'), issues);
      delayPercent = optional(delay, 'percentage', join(path, 'delay'), issues, percentage) ?? 100;
    }
  }
  if (input.abort !== undefined) {
    const abort = checkObject(input.abort, join(path, 'abort'), issues, ['httpStatus', 'percentage']);
    if (abort) {
      if (abort.httpStatus === undefined) issues.add(join(path, 'abort.httpStatus'), 'is required; use 503');
      else abortStatus = integer(200, 599)(abort.httpStatus, join(path, 'abort.httpStatus'), issues);
      abortPercent = optional(abort, 'percentage', join(path, 'abort'), issues, percentage) ?? 100;
    }
  }
  if (input.delay === undefined && input.abort === undefined)
    issues.add(
      path,
      'set delay, abort or both, for example { abort: { httpStatus: 503, percentage: { value: 50 } } }',
    );
  return { delayMs, delayPercent, abortStatus, abortPercent };
};

const routeKeys = [
  'name',
  'match',
  'route',
  'rewrite',
  'headers',
  'timeout',
  'retries',
  'fault',
  'directResponse',
  'redirect',
  'mirror',
  'mirrorPercentage',
  'mirrors',
] as const;

function mirrorTarget(
  value: unknown,
  path: string,
  issues: IssueList,
  targets: RouteTargets,
): { subset: string | undefined; host: string | undefined } | undefined {
  const input = checkObject(value, path, issues, ['subset', 'host']);
  if (!input) return undefined;
  const { subset, host } = input;
  if (subset === undefined && host === undefined)
    return issues.add(path, 'name the mirror: { subset: "v2" } or { host: "payments-next" }');
  if (subset !== undefined && (typeof subset !== 'string' || !targets.subsets.has(subset)))
    return issues.add(
      join(path, 'subset'),
      `${describe(subset)} is no subset of upstreams.${targets.upstream}`,
    );
  if (host !== undefined && (typeof host !== 'string' || !targets.upstreams.has(host)))
    return issues.add(join(path, 'host'), `${describe(host)} is no configured upstream`);
  return {
    subset: typeof subset === 'string' ? subset : undefined,
    host: typeof host === 'string' && host !== targets.upstream ? host : undefined,
  };
}

function checkMirrors(
  input: Record<string, unknown>,
  path: string,
  issues: IssueList,
  targets: RouteTargets,
): CompiledMirror[] {
  const out: CompiledMirror[] = [];
  if (input.mirror !== undefined) {
    const target = mirrorTarget(input.mirror, join(path, 'mirror'), issues, targets);
    const percent = optional(input, 'mirrorPercentage', path, issues, percentage) ?? 100;
    if (target) out.push({ ...target, percent });
  } else if (input.mirrorPercentage !== undefined) {
    issues.add(join(path, 'mirrorPercentage'), 'applies to mirror; set mirror: { subset: "v2" } too');
  }
  if (input.mirrors !== undefined) {
    if (!Array.isArray(input.mirrors))
      issues.add(join(path, 'mirrors'), 'expected a list of { destination, percentage }');
    else
      input.mirrors.forEach((entry, index) => {
        const at = `${join(path, 'mirrors')}[${index}]`;
        const given = checkObject(entry, at, issues, ['destination', 'percentage']);
        if (!given) return;
        const target = mirrorTarget(given.destination, join(at, 'destination'), issues, targets);
        const percent = optional(given, 'percentage', at, issues, percentage) ?? 100;
        if (target) out.push({ ...target, percent });
      });
  }
  return out;
}

/** What route destinations may name: this upstream's subsets and the other upstreams. */
export interface RouteTargets {
  readonly upstream: string;
  readonly subsets: ReadonlySet<string>;
  readonly upstreams: ReadonlySet<string>;
}

function checkDestinations(
  value: unknown,
  path: string,
  issues: IssueList,
  targets: RouteTargets,
): CompiledDestination[] {
  if (!Array.isArray(value) || value.length === 0) {
    issues.add(path, 'needs at least one destination, for example [{ destination: { subset: "v1" } }]');
    return [];
  }
  const out: CompiledDestination[] = [];
  let total = 0;
  let weighted = 0;
  value.forEach((entry, index) => {
    const at = `${path}[${index}]`;
    const input = checkObject(entry, at, issues, ['destination', 'weight', 'headers']);
    if (!input) return;
    const destination = checkObject(input.destination, join(at, 'destination'), issues, ['subset', 'host']);
    if (!destination) return;
    const subset = destination.subset;
    const host = destination.host;
    if (subset !== undefined && (typeof subset !== 'string' || !targets.subsets.has(subset))) {
      const known = [...targets.subsets].map((name) => `"${name}"`).join(', ') || 'none';
      issues.add(
        join(at, 'destination.subset'),
        `${describe(subset)} is no subset of upstreams.${targets.upstream}; its subsets: ${known}`,
      );
    }
    if (host !== undefined && (typeof host !== 'string' || !targets.upstreams.has(host))) {
      issues.add(
        join(at, 'destination.host'),
        `${describe(host)} is no configured upstream; name one of ${[...targets.upstreams].join(', ')}`,
      );
    }
    if (subset !== undefined && host !== undefined && host !== targets.upstream)
      issues.add(join(at, 'destination'), 'a subset belongs to this upstream; set subset or host, not both');
    let weight: number | undefined;
    if (input.weight !== undefined) {
      weight = integer(0, 100)(input.weight, join(at, 'weight'), issues);
      weighted++;
    }
    total += weight ?? 0;
    const headers =
      input.headers === undefined ? undefined : headerPair(input.headers, join(at, 'headers'), issues);
    out.push({
      subset: typeof subset === 'string' ? subset : undefined,
      host: typeof host === 'string' && host !== targets.upstream ? host : undefined,
      upTo: weight ?? 0,
      requestHeaders: headers?.request,
      responseHeaders: headers?.response,
    });
  });
  if (value.length === 1 && weighted === 0) return out.map((d) => ({ ...d, upTo: 100 }));
  if (weighted !== value.length)
    issues.add(path, 'give every destination a weight when there are several, for example 90 and 10');
  else if (total !== 100) issues.add(path, `the weights add up to ${total}; they must add up to 100`);
  // Cumulative bounds, for a pick in [0, 100).
  let upTo = 0;
  return out.map((d) => {
    upTo += d.upTo;
    return { ...d, upTo };
  });
}

function checkRoute(
  value: unknown,
  path: string,
  issues: IssueList,
  targets: RouteTargets,
  index: number,
): CompiledRoute | undefined {
  const input = checkObject(value, path, issues, routeKeys);
  if (!input) return undefined;
  const name =
    optional(input, 'name', path, issues, string('use a route name such as "canary"')) ?? `route-${index}`;
  const matches = optional(input, 'match', path, issues, arrayOf(routeMatch)) ?? [];
  let directResponse: CompiledRoute['directResponse'];
  if (input.directResponse !== undefined) {
    const direct = checkObject(input.directResponse, join(path, 'directResponse'), issues, [
      'status',
      'body',
    ]);
    if (direct) {
      if (direct.status === undefined)
        issues.add(join(path, 'directResponse.status'), 'is required; use 503');
      const status =
        direct.status === undefined
          ? undefined
          : integer(200, 599)(direct.status, join(path, 'directResponse.status'), issues);
      const body =
        direct.body === undefined
          ? undefined
          : checkObject(direct.body, join(path, 'directResponse.body'), issues, ['string']);
      if (status !== undefined)
        directResponse = { status, body: typeof body?.string === 'string' ? body.string : '' };
    }
  }
  let redirect: CompiledRoute['redirect'];
  if (input.redirect !== undefined) {
    const given = checkObject(input.redirect, join(path, 'redirect'), issues, [
      'uri',
      'authority',
      'redirectCode',
    ]);
    if (given) {
      const code = optional(given, 'redirectCode', join(path, 'redirect'), issues, integer(300, 399)) ?? 301;
      redirect = {
        uri: optional(
          given,
          'uri',
          join(path, 'redirect'),
          issues,
          string('use a path such as "/v2/orders"'),
        ),
        authority: optional(
          given,
          'authority',
          join(path, 'redirect'),
          issues,
          string('use a host such as "orders-v2"'),
        ),
        code,
      };
    }
  }
  const terminal = directResponse !== undefined || redirect !== undefined;
  if (input.route === undefined && !terminal)
    issues.add(join(path, 'route'), 'a route needs a destination (route), a directResponse or a redirect');
  const destinations =
    input.route === undefined ? [] : checkDestinations(input.route, join(path, 'route'), issues, targets);
  let rewriteUri: string | undefined;
  let rewriteAuthority: string | undefined;
  if (input.rewrite !== undefined) {
    const rewrite = checkObject(input.rewrite, join(path, 'rewrite'), issues, ['uri', 'authority']);
    if (rewrite) {
      rewriteUri = optional(
        rewrite,
        'uri',
        join(path, 'rewrite'),
        issues,
        string('use a path such as "/v2/"'),
      );
      rewriteAuthority = optional(rewrite, 'authority', join(path, 'rewrite'), issues, string('use a host'));
    }
  }
  const headers =
    input.headers === undefined ? undefined : headerPair(input.headers, join(path, 'headers'), issues);
  let retries: CompiledRoute['retries'];
  if (input.retries !== undefined) {
    const given = checkObject(input.retries, join(path, 'retries'), issues, ['attempts', 'perTryTimeout']);
    if (given)
      retries = {
        attempts: optional(given, 'attempts', join(path, 'retries'), issues, integer(0, 10)),
        perTryTimeoutMs: optional(given, 'perTryTimeout', join(path, 'retries'), issues, duration),
      };
  }
  return {
    name,
    matches,
    destinations,
    rewriteUri,
    rewriteAuthority,
    requestHeaders: headers?.request,
    responseHeaders: headers?.response,
    timeoutMs: optional(input, 'timeout', path, issues, duration),
    retries,
    fault: optional(input, 'fault', path, issues, fault),
    directResponse,
    redirect,
    mirrors: checkMirrors(input, path, issues, targets),
  };
}

const subsetKeys = ['name', 'labels', 'url', 'endpoints', 'trafficPolicy'] as const;

/** What a subset's `trafficPolicy` may override of the upstream's (DestinationRule names). */
export const subsetPolicyKeys = [
  'connectionPool',
  'tls',
  'outlierDetection',
  'circuitBreaker',
  'loadBalancer',
] as const;

function checkSubsets(value: unknown, path: string, issues: IssueList): NormalizedSubset[] {
  if (!Array.isArray(value)) {
    issues.add(
      path,
      'expected a list of subsets, for example [{ name: "v2", url: "https://orders-v2.internal" }]',
    );
    return [];
  }
  const seen = new Set<string>();
  const out: NormalizedSubset[] = [];
  value.forEach((entry, index) => {
    const at = `${path}[${index}]`;
    const input = checkObject(entry, at, issues, subsetKeys);
    if (!input) return;
    const name = optional(input, 'name', at, issues, string('name the subset, for example "v2"'));
    if (input.name === undefined) issues.add(join(at, 'name'), 'is required, for example "v2"');
    if (name !== undefined && seen.has(name)) issues.add(join(at, 'name'), `"${name}" is named twice`);
    if (name !== undefined) seen.add(name);
    const labels: Record<string, string> = {};
    if (input.labels !== undefined) {
      if (!isPlainObject(input.labels)) issues.add(join(at, 'labels'), 'expected an object of label → value');
      else
        for (const [label, text] of Object.entries(input.labels))
          if (typeof text === 'string') labels[label] = text;
    }
    const raw = input.url ?? input.endpoints;
    if (input.url !== undefined && input.endpoints !== undefined)
      issues.add(join(at, 'url'), 'set either url or endpoints, not both');
    const endpoints = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
    if (!endpoints.every((endpoint) => typeof endpoint === 'string'))
      issues.add(
        join(at, input.url !== undefined ? 'url' : 'endpoints'),
        'expected URL strings such as "https://orders-v2.internal"',
      );
    let trafficPolicy: Record<string, unknown> = {};
    if (input.trafficPolicy !== undefined) {
      const policy = checkObject(input.trafficPolicy, join(at, 'trafficPolicy'), issues, subsetPolicyKeys);
      if (policy) trafficPolicy = policy;
    }
    if (name !== undefined)
      out.push({
        name,
        labels,
        endpoints: endpoints.filter((e): e is string => typeof e === 'string'),
        trafficPolicy,
      });
  });
  return out;
}

/** The keys of an upstream this module owns. */
export const trafficKeys = ['subsets', 'http', 'consistentHash'] as const;

/**
 * Checks the traffic keys of one upstream's raw options (`subsets`, `http`, `consistentHash`);
 * undefined when it has none.
 */
export function checkTraffic(
  input: Record<string, unknown>,
  path: string,
  issues: IssueList,
  upstreams: ReadonlySet<string>,
  upstream: string,
): NormalizedTraffic | undefined {
  if (input.subsets === undefined && input.http === undefined && input.consistentHash === undefined)
    return undefined;
  const subsets =
    input.subsets === undefined ? [] : checkSubsets(input.subsets, join(path, 'subsets'), issues);
  const targets: RouteTargets = { upstream, subsets: new Set(subsets.map((s) => s.name)), upstreams };
  const routes: CompiledRoute[] = [];
  if (input.http !== undefined) {
    if (!Array.isArray(input.http))
      issues.add(join(path, 'http'), 'expected a list of routes, first match wins');
    else
      input.http.forEach((route, index) => {
        const checked = checkRoute(route, `${join(path, 'http')}[${index}]`, issues, targets, index);
        if (checked) routes.push(checked);
      });
  }
  let consistentHash: NormalizedTraffic['consistentHash'];
  if (input.consistentHash !== undefined) {
    const hash = checkObject(input.consistentHash, join(path, 'consistentHash'), issues, [
      'httpHeaderName',
      'httpCookie',
      'useTraceId',
    ]);
    if (hash) {
      const given = ['httpHeaderName', 'httpCookie', 'useTraceId'].filter((key) => hash[key] !== undefined);
      if (given.length !== 1)
        issues.add(
          join(path, 'consistentHash'),
          'set exactly one of httpHeaderName, httpCookie or useTraceId',
        );
      else if (typeof hash.httpHeaderName === 'string')
        consistentHash = { header: hash.httpHeaderName.toLowerCase() };
      else if (isPlainObject(hash.httpCookie) && typeof hash.httpCookie.name === 'string')
        consistentHash = { cookie: hash.httpCookie.name };
      else if (hash.useTraceId === true) consistentHash = { traceId: true };
      else
        issues.add(
          join(path, `consistentHash.${given[0]}`),
          'is not valid; use httpHeaderName: "end-user", httpCookie: { name: "user" } or useTraceId: true',
        );
    }
  }
  return { routes, subsets, consistentHash };
}
