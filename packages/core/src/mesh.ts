/**
 * `createMesh`: check the options once, build the logger, turn on the configured features,
 * and hand adapters a prepared pipeline per handler.
 */
import {
  type ContextHost,
  deadlineError,
  InvocationContext,
  type InvocationFacts,
  type MeshContext,
  unknownUpstream,
} from './context.js';
import { deadlineFromHeader, deadlineHeader } from './deadline-header.js';
import { DeadlineWatch } from './deadline-watch.js';
import { errorToResponse } from './error-response.js';
import { ErrorCodes, SidecarlessError } from './errors.js';
import type { AnyFeature, FeatureHost, FeatureSections } from './features.js';
import { createLogger } from './logger.js';
import { type MeshOptions, type NormalizedOptions, normalizeOptions } from './options/index.js';
import {
  callHandler,
  composeEvent,
  composeHttp,
  type EventHandler,
  type EventNext,
  type HttpHandler,
  type HttpNext,
  isPending,
} from './pipeline.js';
import type {
  Flusher,
  Logger,
  Stage,
  UpstreamCallContext,
  UpstreamClient,
  UpstreamProvider,
} from './types.js';

export type { Flusher };

/**
 * A configured mesh: create one per function, at module scope, and wrap handlers with an
 * adapter. All state (pools, breakers, caches) lives on the instance.
 */
export interface Mesh {
  /** The options after checking, with defaults applied. */
  readonly options: NormalizedOptions;
  /** The service name. */
  readonly service: string;
  /** The root logger, for init-time code. */
  readonly log: Logger;
  /**
   * Resolves when the features' init work (fetching keys, resolving DNS…), started at
   * `createMesh`, is done. The first invocation waits for it; await it yourself to fail fast at
   * init.
   */
  ready(): Promise<void>;
  /** Runs every registered flusher, giving up after `budgetMs`. Never rejects. */
  flush(budgetMs?: number): Promise<void>;
  /** Flushes and releases what the mesh holds (timers, pools). */
  close(budgetMs?: number): Promise<void>;
  /**
   * The client for `upstreams[name]`, for init-time code (outside any invocation, so bound to no
   * deadline). Inside a handler use `ctx.upstream(name)`. Calls made before the mesh is ready
   * wait for it.
   */
  upstream(name: string): UpstreamClient;
}

/** Runs one HTTP invocation through the pipeline. Never rejects: errors become responses. */
export type HttpInvoker = (request: Request, facts: InvocationFacts) => Promise<Response>;
/** Runs one event invocation through the pipeline. Rejects with the handler's error. */
export type EventInvoker = (event: unknown, facts: InvocationFacts) => Promise<unknown>;

/** Options for a prepared HTTP pipeline. */
export interface PrepareOptions {
  /**
   * Answer 504 when the deadline passes before the handler does (servers and the local adapter).
   * Lambda leaves this off: the platform itself ends the invocation.
   */
  enforceDeadline?: boolean;
  /**
   * The handler runs a whole batch (an SQS or stream invocation) whose records each go through
   * a pipeline of their own, prepared with {@link InvocationFacts} `telemetry.withinInvocation`:
   * only the stages' `batch` wrappers run around it — one invocation span and one set of
   * invocation metrics for the batch, the records' spans its children.
   */
  batch?: boolean;
}

const internalsKey = Symbol.for('sidecarless.mesh-internals');

/** What adapters reach through `@sidecarless/core/adapter`. @internal */
export interface MeshInternals {
  prepareHttp(handler: HttpHandler<never>, options?: PrepareOptions): HttpInvoker;
  prepareEvent(handler: EventHandler<never, unknown>, options?: PrepareOptions): EventInvoker;
  onFlush(flusher: Flusher): void;
  onClose(closer: Flusher): void;
  flushPending(budgetMs: number): Promise<void> | undefined;
  cutInFlight(error: unknown): number;
}

class MeshImpl implements Mesh {
  readonly options: NormalizedOptions;
  readonly service: string;
  readonly log: Logger;
  readonly #settlers: Flusher[] = [];
  readonly #flushers: Flusher[] = [];
  readonly #closers: Flusher[] = [];
  readonly #contextHost: ContextHost;
  #stages: readonly Stage[] | undefined;
  /** Init work the first invocation waits for; undefined once done (or when there was none). */
  #pending: Promise<void> | undefined;
  #ready: Promise<void>;
  #upstreams: UpstreamProvider | undefined;
  /** The 504 deadlines of in-flight invocations, on one timer. */
  readonly #deadlines = new DeadlineWatch();

  constructor(options: NormalizedOptions) {
    this.options = options;
    this.service = options.service;
    this.log = createLogger(options);
    const flushLogs = () => this.log.flush();
    this.#flushers.push(flushLogs);
    this.#contextHost = {
      service: options.service,
      log: this.log,
      timeoutMs: options.invocation.timeoutMs,
      safetyMarginMs: options.invocation.safetyMarginMs,
      upstreams: () => this.#upstreams,
    };
    this.#ready = this.#startFeatures();
  }

  /**
   * Starts every registered feature now, at createMesh (Lambda's init phase), in stage order
   * (normalizeOptions sorts them).
   * Their stages are known at once unless one still has init work to do; the first invocation
   * waits only for that.
   */
  #startFeatures(): Promise<void> {
    const work: Promise<unknown>[] = [];
    const stages: (Stage | Promise<Stage | undefined> | undefined)[] = [];
    const options = this.options;
    for (const feature of options.features) {
      const host: FeatureHost = {
        service: options.service,
        version: options.version,
        logging: options.logging,
        section: options.section(feature),
        log: this.log,
        feature: (name) => {
          const found = options.features.find((candidate) => candidate.name === name);
          return found ? { feature: found, section: options.section(found) } : undefined;
        },
        onFlush: (flusher) => this.#flushers.push(flusher),
        onSettle: (settler) => this.#settlers.push(settler),
        onClose: (closer) => this.#closers.push(closer),
        provideUpstreams: (provider) => {
          this.#upstreams = provider;
        },
        whenReady: (promise) => work.push(promise),
      };
      const stage = feature.start(host);
      stages.push(stage);
    }
    if (work.length === 0 && !stages.some(isThenable)) {
      this.#stages = [...(stages as (Stage | undefined)[]).filter(isStage), ...options.middleware];
      return settled;
    }
    // The first invocation waits for every stage still pending and the init work features handed over.
    this.#pending = Promise.all([Promise.all(stages), ...work]).then(([resolved]) => {
      this.#stages = [...resolved.filter(isStage), ...options.middleware];
      this.#pending = undefined;
    });
    // Not left unhandled when nothing awaits it yet: each invocation reports the failure itself.
    this.#pending.catch(() => {});
    return this.#pending;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  upstream(name: string): UpstreamClient {
    if (this.#upstreams) return this.#upstreams.client(name, undefined);
    // Not ready yet: hand out a client that waits for the features to load, then delegates.
    const resolve = async (): Promise<UpstreamClient> => {
      await this.ready();
      if (!this.#upstreams) throw unknownUpstream(name);
      return this.#upstreams.client(name, undefined);
    };
    return {
      name,
      fetch: async (pathOrUrl: string | URL, init?: RequestInit) => (await resolve()).fetch(pathOrUrl, init),
      call: async <T>(work: (call: UpstreamCallContext) => Promise<T>) => (await resolve()).call(work),
    };
  }

  flush(budgetMs = 2_000): Promise<void> {
    return this.#flushPending(budgetMs) ?? settled;
  }

  /**
   * Flushes; undefined when every flusher finished synchronously (logs are written synchronously,
   * no feature buffers), so the caller need not even await. The budget timer and race this skips
   * were ~1 µs of every Lambda invocation (bench/lambda-overhead.bench.ts).
   */
  #flushPending(budgetMs: number): Promise<void> | undefined {
    const settling = this.#settlers.length === 0 ? undefined : this.#startAll(this.#settlers, 'settle');
    const pending =
      settling === undefined
        ? this.#startAll(this.#flushers, 'flush')
        : // Settling takes at most half the budget: the flushers (the export) always get the rest.
          withinBudget(settling, budgetMs / 2).then(() => this.#startAll(this.#flushers, 'flush'));
    return pending === undefined ? undefined : withinBudget(pending, budgetMs);
  }

  async close(budgetMs = 2_000): Promise<void> {
    await this.flush(budgetMs);
    const pending = this.#startAll(this.#closers, 'close');
    if (pending !== undefined) await withinBudget(pending, budgetMs);
  }

  /**
   * Starts every hook; one that throws (synchronously or not) is logged and skipped. Returns
   * what is still running, or undefined when every hook finished synchronously.
   */
  #startAll(hooks: readonly Flusher[], what: string): Promise<unknown> | undefined {
    let pending: Promise<void>[] | undefined;
    const failed = (error: unknown) => {
      this.log.warn({ err: error }, `${what} step failed`);
    };
    for (const hook of hooks) {
      let result: Promise<void> | void;
      try {
        result = hook();
      } catch (error) {
        failed(error);
        continue;
      }
      if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
        pending ??= [];
        pending.push(Promise.resolve(result).catch(failed));
      }
    }
    return pending === undefined ? undefined : Promise.all(pending);
  }

  get [internalsKey](): MeshInternals {
    return {
      prepareHttp: (handler, options) => this.#prepareHttp(handler, options ?? {}),
      prepareEvent: (handler, options) => this.#prepareEvent(handler, options ?? {}),
      onFlush: (flusher) => this.#flushers.push(flusher),
      onClose: (closer) => this.#closers.push(closer),
      flushPending: (budgetMs) => this.#flushPending(budgetMs),
      cutInFlight: (error) => this.#deadlines.cutAll(error),
    };
  }

  #context(facts: InvocationFacts): InvocationContext {
    return new InvocationContext(facts, this.#contextHost);
  }

  #prepareHttp(handler: HttpHandler<never>, options: PrepareOptions): HttpInvoker {
    let chain: HttpNext | undefined;
    const enforce = options.enforceDeadline === true;
    const callerDeadline = this.options.invocation.callerDeadline;
    const deadlines = this.#deadlines;
    const failure = (ctx: InvocationContext, error: unknown): Response => {
      if (answeredForHandler(error)) ctx.abandon(error);
      logInvocationError(ctx, error);
      const response = errorToResponse(error, ctx.invocationId);
      ctx.dispose();
      return response;
    };
    // One promise per invocation, settled by callbacks, rather than an async function awaiting a
    // deadline race: in a loaded server every promise and microtask turn shows in the CPU time
    // per request (bench/http-server.bench.ts).
    const settle = (ctx: InvocationContext, request: Request, next: HttpNext): Promise<Response> =>
      new Promise<Response>((resolve) => {
        let pending: Promise<Response>;
        try {
          pending = next(request, ctx);
        } catch (error) {
          resolve(failure(ctx, error));
          return;
        }
        const done = (response: Response) => {
          ctx.dispose();
          resolve(response);
        };
        const failed = (error: unknown) => resolve(failure(ctx, error));
        if (enforce) deadlines.watch(pending, ctx.deadline, done, failed);
        else pending.then(done, failed);
      });
    // With no stage configured the handler is called directly: a handler that answers
    // synchronously has nothing left to race against the deadline, so its answer goes back with
    // no promise but the one the invoker returns (bench/http-server.bench.ts).
    let direct = false;
    const call = handler as HttpHandler<unknown>;
    const settleDirect = (ctx: InvocationContext, request: Request): Promise<Response> => {
      let result: Response | Promise<Response>;
      try {
        result = callHandler(call, request, ctx);
      } catch (error) {
        return Promise.resolve(failure(ctx, error));
      }
      if (isPending(result)) return settle(ctx, request, () => result);
      if (enforce && ctx.deadline <= Date.now()) return Promise.resolve(failure(ctx, deadlineError()));
      ctx.dispose();
      return Promise.resolve(result);
    };
    const run = (ctx: InvocationContext, request: Request): Promise<Response> =>
      direct ? settleDirect(ctx, request) : settle(ctx, request, chain!);
    const runHttp = (request: Request, facts: InvocationFacts): Promise<Response> => {
      let ctx: InvocationContext;
      try {
        ctx = this.#context(callerDeadline ? withCallerDeadline(request, facts, this.options) : facts);
      } catch (error) {
        return Promise.reject(error);
      }
      if (chain !== undefined) return run(ctx, request);
      const compose = () => {
        if (chain === undefined) {
          direct = this.#stages!.length === 0;
          chain = composeHttp(this.#stages!, handler);
        }
        return run(ctx, request);
      };
      if (this.#pending === undefined) return compose();
      return this.#pending.then(compose, (error: unknown) => failure(ctx, error));
    };
    return runHttp;
  }

  #prepareEvent(handler: EventHandler<never, unknown>, options: PrepareOptions): EventInvoker {
    let chain: EventNext | undefined;
    const enforce = options.enforceDeadline === true;
    const runEvent = async (event: unknown, facts: InvocationFacts): Promise<unknown> => {
      const ctx = this.#context(facts);
      try {
        if (chain === undefined) {
          if (this.#pending !== undefined) await this.#pending;
          chain ??= composeEvent(this.#stages!, handler, options.batch === true ? 'batch' : 'event');
        }
        const pending = chain(event, ctx);
        return await (enforce ? this.#deadlines.race(pending, ctx.deadline) : pending);
      } catch (error) {
        if (answeredForHandler(error)) ctx.abandon(error);
        logInvocationError(ctx, error);
        throw markLogged(error);
      } finally {
        ctx.dispose();
      }
    };
    return runEvent;
  }
}

const settled: Promise<void> = Promise.resolve();

function isThenable(value: unknown): value is Promise<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

function isStage(value: Stage | undefined): value is Stage {
  return value !== undefined;
}

const loggedKey = Symbol.for('sidecarless.logged');

/** Marks an error as already logged, so an outer layer does not log it twice. */
function markLogged(error: unknown): unknown {
  if (typeof error === 'object' && error !== null) {
    Object.defineProperty(error, loggedKey, { value: true, enumerable: false, configurable: true });
  }
  return error;
}

/** True when the pipeline has already logged this error. */
export function wasLogged(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { [loggedKey]?: boolean })[loggedKey] === true
  );
}

function logInvocationError(ctx: MeshContext, error: unknown): void {
  if (wasLogged(error)) return;
  markLogged(error);
  if (error instanceof SidecarlessError && error.status < 500) {
    ctx.log.info({ code: error.code, status: error.status }, 'invocation refused');
  } else if (error instanceof SidecarlessError) {
    ctx.log.error({ err: error, code: error.code, status: error.status }, 'invocation failed');
  } else {
    ctx.log.error({ err: error }, 'handler threw');
  }
}

/**
 * Whether the mesh answered with `error` while the handler may still run: the deadline passed,
 * or a drain's grace period ended (the deadline watch fails the invocation with these).
 */
function answeredForHandler(error: unknown): boolean {
  return (
    error instanceof SidecarlessError &&
    (error.code === ErrorCodes.deadlineExceeded || error.code === ErrorCodes.shuttingDown)
  );
}

/** The facts with the deadline shortened to the caller's remaining budget, when it sent one. */
function withCallerDeadline(
  request: Request,
  facts: InvocationFacts,
  options: NormalizedOptions,
): InvocationFacts {
  const header = request.headers.get(deadlineHeader);
  if (header === null) return facts;
  const platformDeadline = facts.deadline ?? Date.now() + options.invocation.timeoutMs;
  return { ...facts, deadline: deadlineFromHeader(header, platformDeadline) };
}

async function withinBudget(work: Promise<unknown>, budgetMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, budgetMs));
  });
  await Promise.race([work, budget]);
  clearTimeout(timer);
}

/** The options `createMesh` accepts with the features `F` registered: the kernel's and theirs. */
export type MeshOptionsWith<F extends readonly AnyFeature[]> = MeshOptions & FeatureSections<F>;

/**
 * Creates a mesh from options, checked once: an invalid option throws a
 * {@link ConfigError} naming the field and the fix. Features are registered by passing them:
 * each adds its options section (and its type) and starts here, at init.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 *
 * export const mesh = createMesh({
 *   service: 'orders',
 *   logging: { level: 'info' },
 *   invocation: { timeout: '10s', safetyMargin: '200ms' },
 * });
 * // With features: createMesh({ service: 'orders', auth: { … } }, [auth]) — see @sidecarless/auth.
 * ```
 */
export function createMesh<const F extends readonly AnyFeature[] = []>(
  options: NoInfer<MeshOptionsWith<F>> = {} as NoInfer<MeshOptionsWith<F>>,
  features?: F,
): Mesh {
  return new MeshImpl(normalizeOptions(options, features ?? []));
}

/** Reaches a mesh's adapter-facing internals. @internal */
export function meshInternals(mesh: Mesh): MeshInternals {
  const internals = (mesh as Partial<Record<typeof internalsKey, MeshInternals>>)[internalsKey];
  if (!internals) throw new TypeError('expected a mesh made by createMesh() from @sidecarless/core');
  return internals;
}
