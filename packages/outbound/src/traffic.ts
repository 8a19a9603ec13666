/**
 * `@sidecarless/outbound/traffic`: traffic management for upstreams, in Istio's vocabulary —
 * VirtualService `http` routes (header, path, query and method matches; weighted destinations;
 * rewrites; header edits; route timeouts and retries; fault injection; direct responses and
 * redirects) and DestinationRule `subsets` with `loadBalancer.consistentHash` for sticky
 * splits. Its own entry point: a function without routes bundles and loads none of it.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { outbound } from '@sidecarless/outbound';
 * import { http } from '@sidecarless/outbound/http';
 * import { traffic } from '@sidecarless/outbound/traffic';
 *
 * // A 90/10 canary of payments v2, and every caller with x-canary: always on v2.
 * const mesh = createMesh(
 *   {
 *     service: 'checkout',
 *     upstreams: {
 *       payments: {
 *         url: 'http://127.0.0.1:8081',
 *         subsets: [
 *           { name: 'v1', url: 'http://127.0.0.1:8081' },
 *           { name: 'v2', url: 'http://127.0.0.1:8082' },
 *         ],
 *         http: [
 *           { name: 'always-canary', match: [{ headers: { 'x-canary': { exact: 'always' } } }], route: [{ destination: { subset: 'v2' } }] },
 *           { name: 'split', route: [{ destination: { subset: 'v1' }, weight: 90 }, { destination: { subset: 'v2' }, weight: 10 }] },
 *         ],
 *       },
 *     },
 *   },
 *   [outbound, http, traffic],
 * );
 * ```
 *
 * @packageDocumentation
 */
import type { Feature, MeshContext, Stage } from '@sidecarless/core';
import {
  arrayOf,
  checkObject,
  isPlainObject,
  optional,
  string,
  workloadLabels,
} from '@sidecarless/core/feature';
import type { TrafficInstaller } from './install.js';
import type { TrafficChecker } from './options.js';
import { checkTraffic, labelMap, type NormalizedTraffic } from './traffic/options.js';
import { Router } from './traffic/router.js';
import { MirrorFlight, TrafficRouting } from './traffic/routing.js';

export type {
  ConsistentHashOptions,
  FaultOptions,
  HeaderOperationsOptions,
  HttpRouteOptions,
  RouteDestinationOptions,
  RouteMatchOptions,
  StringMatchOptions,
  SubsetOptions,
} from './traffic/options.js';
export type { RoutedCallContext, RoutedDestination } from './traffic/routing.js';

/** The `traffic` section: what every routed call of this function shares. */
export interface TrafficOptions {
  /**
   * This function's own labels, which routes' `match.sourceLabels` are matched against — the pod
   * labels a sidecar would have. Given ones are added to (and override) those the platform says:
   * `app` (the service name) and `version` (the service version), as Istio's canonical labels,
   * and on Knative `serving.knative.dev/service`, `/revision` and `/configuration` from
   * `K_SERVICE`, `K_REVISION` and `K_CONFIGURATION`.
   */
  labels?: Readonly<Record<string, string>>;
  /**
   * Headers of the invocation's request copied onto every outgoing call (when the call does not
   * set them), so a route on `end-user` holds through a whole chain of functions — Istio leaves
   * this to the application.
   */
  propagateHeaders?: readonly string[];
}

type HeaderPairs = readonly (readonly [string, string])[];

interface NormalizedTrafficSection {
  readonly labels: Readonly<Record<string, string>>;
  readonly propagateHeaders: readonly string[];
  /** The propagated headers of each running invocation (one map per mesh). */
  readonly propagated: WeakMap<MeshContext, HeaderPairs>;
  /** The mirrors in flight (one per mesh). */
  readonly mirrors: MirrorFlight;
}

const none: HeaderPairs = [];

const defaults = (): NormalizedTrafficSection => ({
  labels: {},
  propagateHeaders: [],
  propagated: new WeakMap(),
  mirrors: new MirrorFlight(),
});

function propagationStage(section: NormalizedTrafficSection): Stage {
  const names = section.propagateHeaders;
  return {
    name: 'traffic',
    http: (next) => (request, ctx) => {
      const found: (readonly [string, string])[] = [];
      for (const name of names) {
        const value = request.headers.get(name);
        if (value !== null) found.push([name, value]);
      }
      if (found.length > 0) section.propagated.set(ctx, found);
      return next(request, ctx);
    },
  };
}

/** The traffic feature: register it beside `outbound` (and `http` for `fetch`). */
export const traffic: Feature<'traffic', TrafficOptions | undefined, NormalizedTrafficSection> &
  TrafficChecker &
  TrafficInstaller = {
  name: 'traffic',
  section: 'traffic',
  check: (value, path, issues) => {
    if (value === undefined) return defaults();
    const input = checkObject(value, path, issues, ['labels', 'propagateHeaders']);
    if (!input) return undefined;
    const labels = optional(input, 'labels', path, issues, labelMap) ?? {};
    const propagateHeaders = (
      optional(
        input,
        'propagateHeaders',
        path,
        issues,
        arrayOf(string('use a header name such as "end-user"')),
      ) ?? []
    ).map((name) => name.toLowerCase());
    return { labels, propagateHeaders, propagated: new WeakMap(), mirrors: new MirrorFlight() };
  },
  start: (host) => {
    const section = host.section;
    if (!section) return undefined;
    // Mirrors end within the invocation: the flush (before Lambda freezes) waits for them.
    host.onSettle(() => section.mirrors.settle());
    return section.propagateHeaders.length > 0 ? propagationStage(section) : undefined;
  },
  checkUpstreamTraffic: (input, path, issues, upstreams, upstream) =>
    checkTraffic(
      { subsets: input.subsets, http: input.http, consistentHash: consistentHashOf(input.loadBalancer) },
      path,
      issues,
      upstreams,
      upstream,
    ),
  createRouting: (upstream, subsets, upstreams, checked, own) => {
    const section = (checked as NormalizedTrafficSection | undefined) ?? defaults();
    const config = upstream.config.traffic as NormalizedTraffic;
    const labels = new Map(config.subsets.map((subset) => [subset.name, subset.labels] as const));
    const withLabels = new Map(
      [...subsets].map(
        ([name, target]) => [name, { upstream: target, labels: labels.get(name) ?? {} }] as const,
      ),
    );
    const names = section.propagateHeaders;
    return new TrafficRouting(
      upstream,
      new Router(config, ownLabels(section.labels, own.service, own.version, process.env)),
      withLabels,
      upstreams,
      names.length === 0 ? () => none : (ctx) => (ctx ? (section.propagated.get(ctx) ?? none) : none),
      section.mirrors,
    );
  },
};

/** This function's labels: the platform's and Istio's canonical ones, the configured ones over them. */
export function ownLabels(
  configured: Readonly<Record<string, string>>,
  service: string,
  version: string | undefined,
  env: NodeJS.ProcessEnv,
): Readonly<Record<string, string>> {
  return { ...workloadLabels(service, version, env), ...configured };
}

function consistentHashOf(loadBalancer: unknown): unknown {
  return isPlainObject(loadBalancer) ? loadBalancer.consistentHash : undefined;
}

// Importing this entry point adds its section to `MeshOptions`.
declare module '@sidecarless/core' {
  interface MeshOptions {
    /** This function's labels and the headers it propagates (`@sidecarless/outbound/traffic`). */
    traffic?: TrafficOptions | undefined;
  }
}
