/**
 * A generation: one configuration of a running mesh — its checked options, the features started
 * for it (their stages and hooks) and its outbound client. `createMesh` builds the first;
 * `mesh.reconfigure` builds the next one beside it, starting anew only the features whose
 * sections changed and carrying the others over as they are (telemetry's exporters and metrics
 * endpoint, the shared store's connection), and swaps it in once its init work is done.
 *
 * An invocation runs on the generation that was current when it started: its context is bound
 * to it (`ctx.upstream` reaches that generation's pools) and counts itself in and out, so a
 * retired generation closes its features (pools, key-refresh timers) only once the last
 * invocation on it has finished.
 */
import type { ContextHost } from './context.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import type { AnyFeature, ReconfigureResult } from './features.js';
import { kernelKeys, type NormalizedOptions } from './options/index.js';
import type { Flusher, Logger, Stage, UpstreamProvider } from './types.js';

/** One feature as started for a generation: what `start` returned and the hooks it registered. */
export interface StartedFeature {
  readonly feature: AnyFeature;
  /** What `start` returned; replaced by the resolved stage once the generation is ready. */
  stage: Stage | Promise<Stage | undefined> | undefined;
  /** Init work handed to `whenReady`. */
  readonly work: Promise<unknown>[];
  readonly flushers: Flusher[];
  readonly settlers: Flusher[];
  readonly closers: Flusher[];
  readonly reconfigured: ((result: ReconfigureResult) => void)[];
  upstreams: UpstreamProvider | undefined;
}

export function startedFeature(feature: AnyFeature): StartedFeature {
  return {
    feature,
    stage: undefined,
    work: [],
    flushers: [],
    settlers: [],
    closers: [],
    reconfigured: [],
    upstreams: undefined,
  };
}

/** What every context of one generation shares, and how many of them are still running. */
export class Generation implements ContextHost {
  readonly number: number;
  readonly options: NormalizedOptions;
  /** In stage order; the same objects as the previous generation's for features carried over. */
  readonly features: readonly StartedFeature[];
  readonly service: string;
  readonly log: Logger;
  readonly timeoutMs: number;
  readonly safetyMarginMs: number;
  /** The stages, user middleware last, once every feature's stage is known. */
  stages: readonly Stage[] | undefined;
  #inFlight = 0;
  #onDrained: (() => void) | undefined;
  /** Found once the features have started (`ctx.upstream` is on the hot path). */
  #upstreams: UpstreamProvider | undefined;

  constructor(number: number, options: NormalizedOptions, features: readonly StartedFeature[], log: Logger) {
    this.number = number;
    this.options = options;
    this.features = features;
    this.service = options.service;
    this.log = log;
    this.timeoutMs = options.invocation.timeoutMs;
    this.safetyMarginMs = options.invocation.safetyMarginMs;
  }

  upstreams(): UpstreamProvider | undefined {
    return this.#upstreams ?? this.#findUpstreams();
  }

  /** The last feature that installed a client wins, as at createMesh. */
  #findUpstreams(): UpstreamProvider | undefined {
    for (let i = this.features.length - 1; i >= 0; i--) {
      const provider = this.features[i]!.upstreams;
      if (provider !== undefined) return provider;
    }
    return undefined;
  }

  /** Knows its stages now, when no feature's stage is still a promise. */
  settleNow(): boolean {
    const stages = this.features.map((started) => started.stage);
    if (stages.some(isThenable)) return false;
    this.#know(stages as (Stage | undefined)[]);
    return true;
  }

  /** Waits for every stage and for `work` (init work the features handed over). */
  async settle(work: readonly Promise<unknown>[]): Promise<void> {
    const [resolved] = await Promise.all([
      Promise.all(this.features.map((started) => started.stage)),
      ...work,
    ]);
    this.#know(resolved);
  }

  #know(resolved: readonly (Stage | undefined)[]): void {
    this.#upstreams = this.#findUpstreams();
    this.features.forEach((started, index) => {
      started.stage = resolved[index];
    });
    this.stages = [
      ...resolved.filter((stage): stage is Stage => stage !== undefined),
      ...this.options.middleware,
    ];
  }

  /**
   * The generation after this one: the features named in `changed` get a fresh record (pushed on
   * `restarted`, to be started) and their sections from `checked`; the others, and the kernel's
   * options (service, logging, invocation), stay the very objects they were.
   */
  next(checked: NormalizedOptions, changed: ReadonlySet<string>, restarted: StartedFeature[]): Generation {
    const sections = new Map<string, unknown>();
    for (const feature of this.options.features)
      sections.set(
        feature.name,
        changed.has(feature.name) ? checked.section(feature) : this.options.section(feature),
      );
    const options: NormalizedOptions = {
      ...this.options,
      secrets: checked.secrets,
      section: (feature) => sections.get(feature.name) as never,
    };
    const features = this.features.map((started) => {
      if (!changed.has(started.feature.name)) return started;
      const fresh = startedFeature(started.feature);
      restarted.push(fresh);
      return fresh;
    });
    return new Generation(this.number + 1, options, features, this.log);
  }

  /** Called by each invocation context as it is made and as it is disposed. */
  enter(): void {
    this.#inFlight++;
  }

  leave(): void {
    if (--this.#inFlight === 0 && this.#onDrained !== undefined) {
      const drained = this.#onDrained;
      this.#onDrained = undefined;
      drained();
    }
  }

  /** Runs `then` once no invocation runs on this generation any more (now, if none does). */
  retire(then: () => void): void {
    if (this.#inFlight === 0) then();
    else this.#onDrained = then;
  }
}

function isThenable(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/**
 * The names of the features whose sections `sections` changes from `input` (what the mesh runs
 * on), or undefined when it changes none. Throws a ConfigError for a key that cannot be
 * reconfigured: the kernel's, a source's own (`istio`), a feature that cannot restart.
 */
export function changedFeatures(
  options: NormalizedOptions,
  input: Readonly<Record<string, unknown>>,
  sections: Readonly<Record<string, unknown>>,
  sources: ReadonlySet<string>,
): Set<string> | undefined {
  const issues: ConfigIssue[] = [];
  const changed = new Set<string>();
  let unknown = false;
  const same = process.getBuiltinModule('node:util').isDeepStrictEqual;
  for (const key of Object.keys(sections)) {
    const feature = options.features.find((candidate) => candidate.section === key);
    if ((kernelKeys as readonly string[]).includes(key))
      issues.push({
        path: key,
        message: 'is fixed at createMesh; only feature sections can be reconfigured',
      });
    else if (feature === undefined)
      unknown = true; // normalizeOptions says what to register
    else if (sources.has(feature.name))
      issues.push({
        path: key,
        message: 'is where this mesh reloads its configuration from; it cannot itself be reconfigured',
      });
    else if (feature.reloadable !== true)
      issues.push({
        path: key,
        message: `the ${feature.name} feature cannot be started again in a running mesh; change it with a new deployment`,
      });
    else if (!same(input[key], sections[key])) changed.add(feature.name);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return changed.size === 0 && !unknown ? undefined : changed;
}
