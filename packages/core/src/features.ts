/**
 * Features: what a package such as `@sidecarless/auth` hands to `createMesh` to add an options
 * section and a pipeline stage. Registration is explicit — `createMesh(options, [auth, telemetry])`
 * — so a bundler sees every feature a function uses, and bundles none it does not: the kernel
 * imports no feature's code.
 *
 * The stage order is stated once, here, outermost first:
 *   telemetry (so a span covers everything) → authentication and policy → rate limits (so they
 *   can key on the verified identity) → other features, in the order registered.
 * User middleware runs inside all of them, around the handler.
 */
import type { IssueList } from './options/schema.js';
import type { Flusher, Logger, Stage, UpstreamProvider } from './types.js';

/** Built-in stages, outermost first; a feature not named here goes after them. */
export const stageOrder: readonly string[] = ['telemetry', 'auth', 'rateLimits'];

/**
 * The options sections that belong to a feature package, so a section present without its
 * feature names the import to add rather than reading as a typo.
 */
export const featureSections: Readonly<Record<string, { readonly feature: string; readonly from: string }>> =
  {
    auth: { feature: 'auth', from: '@sidecarless/auth' },
    telemetry: { feature: 'telemetry', from: '@sidecarless/telemetry' },
    upstreams: { feature: 'outbound', from: '@sidecarless/outbound' },
    traffic: { feature: 'traffic', from: '@sidecarless/outbound/traffic' },
    rateLimits: { feature: 'rateLimits', from: '@sidecarless/ratelimit' },
    redis: { feature: 'redis', from: '@sidecarless/redis' },
    istio: { feature: 'istio', from: '@sidecarless/istio' },
  };

/** What a feature's options checker may read while `createMesh` checks the options. */
export interface CheckHost {
  /** The service name, when it is known (options or platform environment). */
  readonly service: string | undefined;
  readonly env: NodeJS.ProcessEnv;
  /** The registered feature named `name`: a feature that extends another looks it up. */
  feature(name: string): Feature | undefined;
}

/** What a feature may use of the mesh while it starts, at `createMesh`. */
export interface FeatureHost<Section = unknown> {
  /** The kernel's checked options (service, version, logging, invocation). */
  readonly service: string;
  readonly version: string | undefined;
  readonly logging: import('./options/logging.js').NormalizedLogging;
  /** This feature's checked section; undefined when the section is absent. */
  readonly section: Section | undefined;
  /** The mesh's root logger (security events, stale-key warnings…). */
  readonly log: Logger;
  /** The registered feature named `name`, with its checked section. */
  feature(name: string): { readonly feature: Feature; readonly section: unknown } | undefined;
  /** Runs before the process may freeze or exit. */
  onFlush(flusher: Flusher): void;
  /**
   * Work invocations left running (a route's mirrored copies): awaited before the flushers start,
   * so what it records (spans, counts) is in the same flush rather than the next one.
   */
  onSettle(settler: Flusher): void;
  /** Runs on `mesh.close()`. */
  onClose(closer: Flusher): void;
  /** Installs the outbound client behind `ctx.upstream(name)` and `mesh.upstream(name)`. */
  provideUpstreams(provider: UpstreamProvider): void;
  /**
   * Init work the first invocation waits for (fetching keys, resolving DNS). It starts at
   * `createMesh` — in Lambda's init phase — not when the first caller is waiting.
   */
  whenReady(work: Promise<unknown>): void;
  /**
   * Replaces the sections of reloadable features (`auth`, `upstreams`) in the running mesh, all
   * or nothing: see `mesh.reconfigure`. `sections` may be a function, run in turn with other
   * reconfigurations (a loader reading files), whose failure rejects the change like a bad value.
   */
  reconfigure(
    sections: Readonly<Record<string, unknown>> | (() => Promise<Readonly<Record<string, unknown>>>),
  ): Promise<ReconfigureResult>;
  /**
   * Told of every reconfiguration of the mesh once it is ready (not of the initial load a feature
   * does during init): the telemetry feature counts them.
   */
  onReconfigure(listener: (result: ReconfigureResult) => void): void;
}

/**
 * What `mesh.reconfigure` did. `generation` numbers the configuration in effect afterwards (0 is
 * the one `createMesh` started).
 */
export type ReconfigureResult =
  | {
      readonly outcome: 'applied';
      readonly generation: number;
      /** The features started anew, by name. */
      readonly restarted: readonly string[];
    }
  | { readonly outcome: 'unchanged'; readonly generation: number }
  | {
      readonly outcome: 'rejected';
      readonly generation: number;
      /** A {@link ConfigError} naming the field, or what the new features' init work threw. */
      readonly error: unknown;
    };

declare const sectionOptions: unique symbol;

/**
 * A feature package's registration object. `Section` is the options key it owns (`never` for a
 * feature with no section of its own, such as the HTTP transport), `Options` that section's type.
 *
 * @example
 * ```ts
 * import { createMesh, type Feature } from '@sidecarless/core';
 *
 * // A feature of your own: a `greeting` section and a stage that adds a header.
 * const greeting: Feature<'greeting', { text: string }, string> = {
 *   name: 'greeting',
 *   section: 'greeting',
 *   check: (value, path, issues) => {
 *     const text = (value as { text?: unknown }).text;
 *     if (typeof text === 'string') return text;
 *     issues.add(`${path}.text`, 'expected a string, for example "hello"');
 *     return undefined;
 *   },
 *   start: (host) => ({
 *     name: 'greeting',
 *     http: (next) => async (request, ctx) => {
 *       const response = await next(request, ctx);
 *       response.headers.set('x-greeting', host.section ?? '');
 *       return response;
 *     },
 *   }),
 * };
 * const mesh = createMesh({ service: 'orders', greeting: { text: 'hello' } }, [greeting]);
 * ```
 */
export interface Feature<Section extends string = string, Options = unknown, Normalized = unknown> {
  /** Unique among the registered features; names the feature in errors. */
  readonly name: string;
  /** The options key this feature owns, if any. */
  readonly section?: Section;
  /** Checks the section (present or not: `value` is undefined when absent). */
  check?(value: unknown, path: string, issues: IssueList, host: CheckHost): Normalized | undefined;
  /**
   * The headers, cookies and query parameters that carry secrets under this section (JWT token
   * sources): the logger censors them on every line.
   */
  secrets?(section: Normalized): { readonly fields?: readonly string[]; readonly params?: readonly string[] };
  /**
   * Starts the feature at `createMesh`; returns its stage (or a promise of it, while init work
   * runs), or undefined when it adds none.
   */
  start(host: FeatureHost<Normalized>): Stage | Promise<Stage | undefined> | undefined;
  /**
   * The feature can be started again in a running mesh with a changed section
   * (`mesh.reconfigure`): a new instance beside the old one, which is closed once the invocations
   * it serves have finished. Features that hold a process-wide resource (a metrics port) say no.
   */
  readonly reloadable?: boolean;
  /** Type-level only: the options type of the section. */
  readonly [sectionOptions]?: Options;
}

/** Any feature, as `createMesh` accepts them. */
// biome-ignore lint/suspicious/noExplicitAny: the list holds features of every section and options type
export type AnyFeature = Feature<any, any, any>;

type UnionToIntersection<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void
  ? I
  : never;

/** The options sections the features in `F` add: `{ auth?: AuthOptions; … }`. */
export type FeatureSections<F extends readonly AnyFeature[]> = [F[number]] extends [never]
  ? unknown
  : UnionToIntersection<
      F[number] extends infer One
        ? One extends Feature<infer S, infer O, infer _N>
          ? [S] extends [never]
            ? unknown
            : { [K in S]?: O }
          : unknown
        : unknown
    >;

/** The features in the order their stages run, outermost first. */
export function inStageOrder<F extends { readonly name: string }>(features: readonly F[]): F[] {
  const rank = (feature: F) => {
    const index = stageOrder.indexOf(feature.name);
    return index === -1 ? stageOrder.length : index;
  };
  return features
    .map((feature, index) => ({ feature, index }))
    .sort((a, b) => rank(a.feature) - rank(b.feature) || a.index - b.index)
    .map(({ feature }) => feature);
}
