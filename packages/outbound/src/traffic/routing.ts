/**
 * One upstream's calls, routed: the router's decision turned into the call — the destination
 * upstream (a subset, another upstream, or this one), the request's path and headers rewritten,
 * the route's timeout and retries, fault injection inside the policy chain, and the answers a
 * route gives itself (`directResponse`, `redirect`).
 */
import type { MeshContext, UpstreamCallContext } from '@sidecarless/core';
import { invocationOf } from '@sidecarless/core/feature';
import {
  type AttemptPlan,
  type CallOptions,
  timeoutError,
  type Upstream,
  type UpstreamRouting,
} from '../upstream.js';
import type { CompiledFault, CompiledRoute, HeaderOperations } from './options.js';
import type { RoutedCall, Router } from './router.js';

/** What `.call(work)` sees of the destination a route chose. */
export interface RoutedDestination {
  /** The upstream the call goes to (this one, or the route's `host`). */
  readonly upstream: string;
  /** The subset chosen, if any. */
  readonly subset: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  /** The destination's first endpoint, when it has endpoints. */
  readonly endpoint: string | undefined;
  /** The route that decided, by name. */
  readonly route: string | undefined;
}

/** `UpstreamCallContext` of a routed `.call(work)`: where the route sent it. */
export interface RoutedCallContext extends UpstreamCallContext {
  readonly destination: RoutedDestination;
}

/** Where a mirrored copy's outcome is counted (`serverless_upstream_mirrors_total`). */
export type MirrorReport = (outcome: 'sent' | 'dropped' | 'failed') => void;

/**
 * The mirrors in flight for one mesh, bounded: past `limit` a copy is dropped (and counted),
 * never queued; the flush awaits the rest, so on Lambda a mirror ends within its invocation —
 * a copy still running at the invocation's deadline is cut off there and counted as dropped.
 */
export class MirrorFlight {
  readonly inflight = new Set<Promise<void>>();
  sent = 0;
  dropped = 0;
  failed = 0;
  /** 32 copies in flight: enough for a 100% mirror at 16 in flight, small enough to bound memory. */
  constructor(readonly limit = 32) {}

  /** Counts a copy that was never sent. */
  drop(report: MirrorReport | undefined): void {
    this.dropped++;
    report?.('dropped');
  }

  /**
   * Starts `copy` unless the cap is reached; its outcome never reaches the caller. `deadline`
   * (epoch ms) is the invocation's: a copy that fails once it has passed was cut off, not failed.
   */
  start(copy: () => Promise<Response>, report: MirrorReport | undefined, deadline = Infinity): void {
    if (this.inflight.size >= this.limit) {
      this.drop(report);
      return;
    }
    this.sent++;
    report?.('sent');
    const failed = () => {
      this.failed++;
      report?.('failed');
    };
    const running: Promise<void> = copy()
      .then(
        async (response) => {
          if (response.status >= 500) failed();
          await response.body?.cancel().catch(() => {});
        },
        () => (Date.now() >= deadline ? this.drop(report) : failed()),
      )
      .finally(() => this.inflight.delete(running));
    this.inflight.add(running);
  }

  /** Waits for the mirrors in flight (the mesh's flush). */
  async settle(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}

/** The headers of the invocation's request that are copied onto every outgoing call. */
export type PropagatedHeaders = (ctx: MeshContext | undefined) => readonly (readonly [string, string])[];

function applyHeaders(headers: Headers, operations: HeaderOperations | undefined): void {
  if (!operations) return;
  for (const [name, value] of operations.set) headers.set(name, value);
  for (const [name, value] of operations.add) headers.append(name, value);
  for (const name of operations.remove) headers.delete(name);
}

const roll = (percent: number, random: () => number) =>
  percent >= 100 || (percent > 0 && random() * 100 < percent);

/**
 * Fault injection as a plan wrapper, so it runs inside the chain: a delay waits (never past
 * what the attempt may take: past it, the attempt times out as a slow upstream would); an abort
 * answers with the route's status, which retries and the breaker treat as a real answer.
 */
function faultPlan(
  fault: CompiledFault,
  random: () => number,
  describe: FaultedCall,
): CallOptions['wrapPlan'] {
  return <T>(plan: AttemptPlan<T>, upstream: Upstream): AttemptPlan<T> => ({
    ...plan,
    attempt: async (state, timing, retryFits) => {
      let left = timing;
      state.fault = undefined;
      if (fault.delayMs !== undefined && roll(fault.delayPercent, random)) {
        state.fault = 'delay';
        const waitMs = Math.min(fault.delayMs, timing.attemptMs);
        await new Promise((resolve) => setTimeout(resolve, waitMs));
        if (waitMs >= timing.attemptMs) throw timeoutError(upstream.name, timing.perTry, timing.attemptMs);
        left = { attemptMs: timing.attemptMs - waitMs, perTry: timing.perTry };
      }
      if (fault.abortStatus !== undefined && roll(fault.abortPercent, random) && plan.injected) {
        // The injected answer is an attempt like any other: its CLIENT span (marked as a fault)
        // counts in serverless_upstream_requests_total with the injected status.
        const span = state.telemetry?.startClientSpan({
          upstream: upstream.name,
          method: describe.method,
          url: new URL(describe.path, upstream.config.endpoints[0] ?? 'http://call.invalid'),
          attempt: state.attempt - 1,
          route: state.route?.name,
          subset: state.route?.subset,
          fault: 'abort',
        });
        span?.end({ status: fault.abortStatus });
        return plan.injected(fault.abortStatus, retryFits);
      }
      return plan.attempt(state, left, retryFits);
    },
  });
}

/** What a fault's CLIENT span says of the call it replaced. */
interface FaultedCall {
  readonly method: string;
  readonly path: string;
}

function callOptions(
  route: CompiledRoute | undefined,
  subset: string | undefined,
  random: () => number,
  call: FaultedCall,
): CallOptions | undefined {
  if (!route) return undefined;
  const options: CallOptions = {
    route: { name: route.name, subset },
    authority: route.rewriteAuthority,
    timeoutMs: route.timeoutMs,
    attempts: route.retries?.attempts,
    perTryTimeoutMs: route.retries?.perTryTimeoutMs,
    wrapPlan: route.fault ? faultPlan(route.fault, random, call) : undefined,
  };
  return options;
}

/** The routed calls of one upstream. */
export class TrafficRouting implements UpstreamRouting {
  readonly #self: Upstream;
  readonly #router: Router;
  readonly #subsets: ReadonlyMap<string, { upstream: Upstream; labels: Readonly<Record<string, string>> }>;
  readonly #upstreams: ReadonlyMap<string, Upstream>;
  readonly #propagated: PropagatedHeaders;
  readonly #mirrors: MirrorFlight;
  readonly #random: () => number;

  constructor(
    self: Upstream,
    router: Router,
    subsets: ReadonlyMap<string, { upstream: Upstream; labels: Readonly<Record<string, string>> }>,
    upstreams: ReadonlyMap<string, Upstream>,
    propagated: PropagatedHeaders,
    mirrors: MirrorFlight,
    random: () => number = Math.random,
  ) {
    this.#mirrors = mirrors;
    this.#self = self;
    this.#router = router;
    this.#subsets = subsets;
    this.#upstreams = upstreams;
    this.#propagated = propagated;
    this.#random = random;
  }

  /** The upstream a destination or a mirror names: a subset, another upstream, or this one. */
  #target(
    to: { readonly subset: string | undefined; readonly host: string | undefined } | undefined,
  ): Upstream {
    if (to?.subset !== undefined) return this.#subsets.get(to.subset)!.upstream;
    if (to?.host !== undefined) return this.#upstreams.get(to.host)!;
    return this.#self;
  }

  fetch(input: string | URL, init: RequestInit | undefined, ctx: MeshContext | undefined): Promise<Response> {
    // Not an async function (one promise and one microtask less per call), yet it never throws.
    try {
      return this.#fetch(input, init, ctx);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #fetch(
    input: string | URL,
    init: RequestInit | undefined,
    ctx: MeshContext | undefined,
  ): Promise<Response> {
    const given = init?.headers ?? undefined;
    const propagated = this.#propagated(ctx);
    const text = typeof input === 'string' ? input : input.href;
    const absolute = !text.startsWith('/');
    // A relative path (the usual call) is split by hand: no URL parse per call.
    const url = absolute ? new URL(text) : undefined;
    const mark = text.indexOf('?');
    const pathname = url ? url.pathname : mark === -1 ? text : text.slice(0, mark);
    const search = url ? url.search : mark === -1 ? '' : text.slice(mark);
    const call = new OutgoingRequest(
      (init?.method ?? 'GET').toUpperCase(),
      pathname,
      search,
      headerReader(given),
      propagated,
      ctx,
    );
    const readGiven = call.given;
    const decision = this.#router.decide(call);
    const route = decision.route;
    if (route?.directResponse) {
      return Promise.resolve(
        new Response(route.directResponse.body === '' ? null : route.directResponse.body, {
          status: route.directResponse.status,
        }),
      );
    }
    if (route?.redirect) {
      const location = new URL(url?.href ?? `http://upstream.invalid${text}`);
      if (route.redirect.uri !== undefined) location.pathname = route.redirect.uri;
      if (route.redirect.authority !== undefined) location.host = route.redirect.authority;
      const shown =
        absolute || route.redirect.authority !== undefined
          ? location.href
          : `${location.pathname}${location.search}`;
      return Promise.resolve(
        new Response(null, { status: route.redirect.code, headers: { location: shown } }),
      );
    }
    let path = `${pathname}${search}`;
    if (route?.rewriteUri !== undefined) {
      const prefix = decision.match?.uriPrefix;
      const rest = prefix !== undefined && pathname.startsWith(prefix) ? pathname.slice(prefix.length) : '';
      path = `${prefix !== undefined ? route.rewriteUri + rest : route.rewriteUri}${search}`;
    }
    let headers: RequestInit['headers'] | undefined = given;
    const toAdd = propagated.filter(([name]) => readGiven(name) === undefined);
    if (toAdd.length > 0 || route?.requestHeaders || decision.destination?.requestHeaders) {
      const edited = new Headers(given);
      for (const [name, value] of toAdd) edited.set(name, value);
      applyHeaders(edited, route?.requestHeaders);
      applyHeaders(edited, decision.destination?.requestHeaders);
      headers = edited;
    }
    const target = this.#target(decision.destination);
    // A path for the destination's own endpoint; an absolute URL stays as given (passthrough).
    const next = absolute && route?.rewriteUri === undefined ? text : path;
    const options = callOptions(route, decision.destination?.subset, this.#random, {
      method: call.method,
      path: next,
    });
    const sent = headers === given || headers === undefined ? init : { ...init, headers };
    const pending = target.fetch(next, sent, ctx, options);
    // The copies start once the main call is on its way (its answer may not wait for them).
    if (route && route.mirrors.length > 0) {
      const mirrorRoute = route;
      const copy = () => this.#mirror(mirrorRoute, next, sent, ctx);
      pending.then(copy, copy);
    }
    const routeEdits = route?.responseHeaders;
    const destinationEdits = decision.destination?.responseHeaders;
    // No edits to the answer (the usual route): the transport's promise is returned as it is.
    if (routeEdits === undefined && destinationEdits === undefined) return pending;
    return pending.then((response) => {
      const edited = new Headers(response.headers);
      applyHeaders(edited, routeEdits);
      applyHeaders(edited, destinationEdits);
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers: edited,
      });
    });
  }

  /**
   * Copies of the call to the route's mirrors, as Envoy sends them: Host suffixed `-shadow`, no
   * retries, bounded by the invocation's deadline; their answers and failures go nowhere. A body
   * that cannot be read twice (a stream) is not mirrored.
   */
  #mirror(
    route: CompiledRoute,
    path: string,
    init: RequestInit | undefined,
    ctx: MeshContext | undefined,
  ): void {
    const body = init?.body;
    const replayable =
      body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array;
    const telemetry = ctx ? invocationOf(ctx).telemetry : undefined;
    for (const mirror of route.mirrors) {
      if (!roll(mirror.percent, this.#random)) continue;
      const target = this.#target(mirror);
      const report: MirrorReport | undefined = telemetry?.upstreamMirror
        ? (outcome) => telemetry.upstreamMirror?.(target.name, outcome)
        : undefined;
      if (!replayable) {
        this.#mirrors.drop(report);
        continue;
      }
      const authority = `${route.rewriteAuthority ?? target.config.endpoints[0]?.host ?? target.name}-shadow`;
      this.#mirrors.start(
        () => target.fetch(path, init, ctx, { attempts: 0, authority, mirror: true }),
        report,
        ctx?.deadline,
      );
    }
  }

  call<T>(work: (call: UpstreamCallContext) => Promise<T>, ctx: MeshContext | undefined): Promise<T> {
    const call = new OutgoingRequest('CALL', '', '', noHeaders, this.#propagated(ctx), ctx);
    const decision = this.#router.decide(call);
    const target = this.#target(decision.destination);
    const subset = decision.destination?.subset;
    const destination: RoutedDestination = {
      upstream: target === this.#self || subset !== undefined ? this.#self.name : target.name,
      subset,
      labels: subset === undefined ? {} : this.#subsets.get(subset)!.labels,
      endpoint: target.config.endpoints[0]?.href,
      route: decision.route?.name,
    };
    return target.call(
      (attempt) =>
        work(Object.assign(Object.create(attempt) as object, { destination }) as RoutedCallContext),
      ctx,
      callOptions(decision.route, subset, this.#random, { method: 'CALL', path: '/' }),
    );
  }
}

/**
 * What the router sees of one outgoing call. A class, not an object literal: a literal with a
 * getter took ~1 µs to create (V8 defines the accessor per object; bench/traffic.bench.ts at 16
 * in flight), and the query and trace id are read only by the routes that ask for them.
 */
class OutgoingRequest implements RoutedCall {
  #query: URLSearchParams | undefined;
  constructor(
    readonly method: string,
    readonly path: string,
    readonly search: string,
    /** The caller's own headers, read where they are. */
    readonly given: (name: string) => string | undefined,
    readonly propagated: readonly (readonly [string, string])[],
    readonly ctx: MeshContext | undefined,
  ) {}

  get query(): URLSearchParams | undefined {
    if (this.#query === undefined && this.search !== '') this.#query = new URLSearchParams(this.search);
    return this.#query;
  }

  get traceId(): string | undefined {
    return traceIdOf(this.ctx);
  }

  header(name: string): string | undefined {
    const value = this.given(name);
    if (value !== undefined) return value;
    for (const [propagatedName, propagatedValue] of this.propagated)
      if (propagatedName === name) return propagatedValue;
    return undefined;
  }
}

const noHeaders = (_name: string): string | undefined => undefined;

/** Reads one header, by lower-case name, from whatever `RequestInit.headers` was given. */
function headerReader(headers: RequestInit['headers'] | undefined): (name: string) => string | undefined {
  if (headers === undefined || headers === null) return () => undefined;
  if (headers instanceof Headers) return (name) => headers.get(name) ?? undefined;
  if (Array.isArray(headers)) {
    return (name) => {
      for (const [key, value] of headers as [string, string][]) if (key.toLowerCase() === name) return value;
      return undefined;
    };
  }
  const record = headers as Record<string, string>;
  return (name) => {
    const exact = record[name];
    if (exact !== undefined) return exact;
    for (const key in record) if (key.toLowerCase() === name) return record[key];
    return undefined;
  };
}

function traceIdOf(ctx: MeshContext | undefined): string | undefined {
  if (!ctx) return undefined;
  return invocationOf(ctx).telemetry?.span?.spanContext().traceId;
}
