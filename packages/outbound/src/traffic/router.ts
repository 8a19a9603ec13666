/**
 * Choosing a route and a destination for one call: the first route whose match holds (Istio's
 * rule), then a weighted destination. With `consistentHash` the pick is a pure function of the
 * key (a header, a cookie or the trace id), so the same user lands on the same destination from
 * every function instance — no shared state needed; without it, a fresh random pick per call,
 * as Istio does.
 *
 * Cost: the tables are compiled at `createMesh`; a call runs a few string checks per route
 * (bench/traffic.bench.ts: ≤ 1 µs for a 10-route table with header, prefix and regex matches).
 */
import type { CompiledDestination, CompiledMatch, CompiledRoute, NormalizedTraffic } from './options.js';

/** What the router reads of a call. */
export interface RoutedCall {
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  readonly query: URLSearchParams | undefined;
  /** Lower-case header name → value. */
  header(name: string): string | undefined;
  /** The invocation's trace id, for `consistentHash.useTraceId`. */
  readonly traceId: string | undefined;
}

/** The decision for one call. */
export interface RouteDecision {
  readonly route: CompiledRoute | undefined;
  readonly destination: CompiledDestination | undefined;
  /** The match that held (its `uri.prefix` is what a prefix rewrite replaces). */
  readonly match: CompiledMatch | undefined;
}

const noRoute: RouteDecision = { route: undefined, destination: undefined, match: undefined };

function matches(match: CompiledMatch, call: RoutedCall, labels: Readonly<Record<string, string>>): boolean {
  if (match.uri && !match.uri(call.path)) return false;
  if (match.method && !match.method(call.method)) return false;
  for (const [name, test] of match.headers) if (!test(call.header(name))) return false;
  for (const [name, test] of match.withoutHeaders) {
    const value = call.header(name);
    if (value !== undefined && test(value)) return false;
  }
  for (const [name, test] of match.queryParams) if (!test(call.query?.get(name) ?? undefined)) return false;
  for (const [name, value] of match.sourceLabels) if (labels[name] !== value) return false;
  return true;
}

/**
 * FNV-1a (32-bit) of `key`, mapped to [0, 100): the same key gives the same point on every
 * instance and every Node version.
 */
export function hashPoint(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash % 10_000) / 100;
}

function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The routes of one upstream, compiled, with the function's own labels for `sourceLabels`. */
export class Router {
  readonly #traffic: NormalizedTraffic;
  readonly #labels: Readonly<Record<string, string>>;
  readonly #random: () => number;

  constructor(
    traffic: NormalizedTraffic,
    labels: Readonly<Record<string, string>>,
    random: () => number = Math.random,
  ) {
    this.#traffic = traffic;
    this.#labels = labels;
    this.#random = random;
  }

  get hasRoutes(): boolean {
    return this.#traffic.routes.length > 0;
  }

  /** The key `consistentHash` hashes for this call; undefined when it has none (random pick). */
  hashKey(call: RoutedCall): string | undefined {
    const hash = this.#traffic.consistentHash;
    if (hash === undefined) return undefined;
    if ('header' in hash) return call.header(hash.header);
    if ('cookie' in hash) return cookie(call.header('cookie'), hash.cookie);
    return call.traceId;
  }

  decide(call: RoutedCall): RouteDecision {
    for (const route of this.#traffic.routes) {
      let held: CompiledMatch | undefined;
      if (route.matches.length > 0) {
        for (const match of route.matches) {
          if (matches(match, call, this.#labels)) {
            held = match;
            break;
          }
        }
        if (held === undefined) continue;
      }
      return { route, destination: this.#pick(route, call), match: held };
    }
    return noRoute;
  }

  #pick(route: CompiledRoute, call: RoutedCall): CompiledDestination | undefined {
    const destinations = route.destinations;
    if (destinations.length <= 1) return destinations[0];
    const key = this.hashKey(call);
    const point = key === undefined ? this.#random() * 100 : hashPoint(key);
    for (const destination of destinations) if (point < destination.upTo) return destination;
    return destinations.at(-1);
  }
}
