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
import type { AnyFeature, ReconfigureResult } from './features.js';
import type { NormalizedOptions } from './options/index.js';
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
