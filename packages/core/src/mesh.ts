/**
 * `createMesh`: check the options once, build the logger, turn on the configured features,
 * and hand adapters a prepared pipeline per handler. `reconfigure` swaps in a new generation of
 * the reloadable features' sections between invocations (generation.ts).
 */
import {
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
import type { AnyFeature, FeatureHost, FeatureSections, ReconfigureResult } from './features.js';
import { changedFeatures, Generation, type StartedFeature, startedFeature } from './generation.js';
import { createLogger, loggerRedactor } from './logger.js';
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
import type { Redactor } from './redact.js';
import type { Flusher, Logger, UpstreamCallContext, UpstreamClient } from './types.js';

export type { Flusher, ReconfigureResult };

/** Sections to put in place of the current ones, by options key: `{ auth: {…}, upstreams: {…} }`. */
export type Sections = Readonly<Record<string, unknown>>;

/**
 * A configured mesh: create one per function, at module scope, and wrap handlers with an
 * adapter. All state (pools, breakers, caches) lives on the instance.
 */
export interface Mesh {
  /** The options after checking, with defaults applied (the current generation's). */
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
  /**
   * Replaces sections of reloadable features (`auth`, `upstreams`) while the mesh runs, all or
   * nothing. The new sections go through the same checks as at `createMesh`; the features whose
   * sections changed are started anew beside the running ones and their init work (fetching
   * keys, resolving DNS) is done; only then does the next invocation see them. Invocations in
   * flight finish on the configuration they started with, which is closed (pools, timers) once
   * the last of them is done. Features whose sections did not change — telemetry, its metrics
   * endpoint and exporters — are not touched. A refusal (a {@link ConfigError}, or init work
   * that failed) leaves everything as it was. Calls run one after another.
   *
   * A section set to `undefined` is removed. Logs nothing: the caller says what it reloaded.
   *
   * @example
   * ```ts
   * import { auth } from '@sidecarless/auth';
   * import { createMesh } from '@sidecarless/core';
   *
   * const mesh = createMesh({ service: 'orders' }, [auth]);
   * // Later (a policy fetched from elsewhere): deny /admin from now on.
   * const result = await mesh.reconfigure({
   *   auth: { policies: [{ name: 'no-admin', action: 'DENY', rules: [{ to: [{ paths: ['/admin/*'] }] }] }] },
   * });
   * if (result.outcome === 'rejected') mesh.log.error({ err: result.error }, 'policy refused; the old one stays');
   * ```
   */
  reconfigure(sections: Sections | (() => Promise<Sections>)): Promise<ReconfigureResult>;
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
  readonly service: string;
  readonly log: Logger;
  /** What `createMesh` was given, with the sections reconfigurations replaced since. */
  #input: Sections;
  readonly #redactor: Redactor;
  /** The configuration new invocations run on. */
  #generation: Generation;
  /** The log flush, then what adapters register; the features' hooks are on each StartedFeature. */
  readonly #ownFlushers: Flusher[] = [];
  readonly #ownClosers: Flusher[] = [];
  /** The current generation's features' hooks with the mesh's own, rebuilt when it changes. */
  #flushers: readonly Flusher[] = [];
  #settlers: readonly Flusher[] = [];
  /** Closes a retired generation's features early: at `mesh.close()`, if it has not drained. */
  readonly #retiring = new Set<() => Promise<unknown> | undefined>();
  /** Features that reconfigure the mesh themselves: their sections cannot be reconfigured. */
  readonly #sources = new Set<string>();
  #reconfiguring: Promise<unknown> = settled;
  #closed = false;
  /** Init work the first invocation waits for; undefined once done (or when there was none). */
  #pending: Promise<void> | undefined;
  #ready: Promise<void>;
  /** The 504 deadlines of in-flight invocations, on one timer. */
  readonly #deadlines = new DeadlineWatch();

  constructor(input: Sections, options: NormalizedOptions) {
    this.#input = input;
    this.service = options.service;
    this.#redactor = loggerRedactor(options);
    this.log = createLogger(options, this.#redactor);
    this.#ownFlushers.push(() => this.log.flush());
    this.#generation = new Generation(0, options, options.features.map(startedFeature), this.log);
    this.#ready = this.#startFeatures();
  }

  get options(): NormalizedOptions {
    return this.#generation.options;
  }

  /**
   * Starts every registered feature now, at createMesh (Lambda's init phase), in stage order
   * (normalizeOptions sorts them).
   * Their stages are known at once unless one still has init work to do; the first invocation
   * waits only for that.
   */
  #startFeatures(): Promise<void> {
    const generation = this.#generation;
    this.#start(generation, generation.features);
    this.#rebuildHooks();
    const work = generation.features.flatMap((started) => started.work);
    if (work.length === 0 && generation.settleNow()) return settled;
    // The first invocation waits for every stage still pending and the init work features handed
    // over — including a first load that reconfigures the mesh (a newer generation, by then).
    this.#pending = generation.settle(work).then(() => {
      this.#pending = undefined;
    });
    // Not left unhandled when nothing awaits it yet: each invocation reports the failure itself.
    this.#pending.catch(() => {});
    return this.#pending;
  }

  /** Starts `features` (records of `generation`), each with a host that fills its record. */
  #start(generation: Generation, features: readonly StartedFeature[]): void {
    const options = generation.options;
    for (const started of features) {
      const feature = started.feature;
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
        onFlush: (flusher) => {
          started.flushers.push(flusher);
          this.#rebuildHooks();
        },
        onSettle: (settler) => {
          started.settlers.push(settler);
          this.#rebuildHooks();
        },
        onClose: (closer) => started.closers.push(closer),
        provideUpstreams: (provider) => {
          started.upstreams = provider;
        },
        whenReady: (promise) => started.work.push(promise),
        reconfigure: (sections) => {
          this.#sources.add(feature.name);
          return this.reconfigure(sections);
        },
        onReconfigure: (listener) => started.reconfigured.push(listener),
      };
      started.stage = feature.start(host);
    }
  }

  #rebuildHooks(): void {
    const features = this.#generation.features;
    const [flushLogs, ...adapters] = this.#ownFlushers;
    this.#flushers = [flushLogs!, ...features.flatMap((started) => started.flushers), ...adapters];
    this.#settlers = features.flatMap((started) => started.settlers);
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  upstream(name: string): UpstreamClient {
    // An unknown name is refused now when the mesh is ready, as it is inside a handler.
    if (this.#pending === undefined && this.#generation.upstreams() !== undefined) this.#client(name);
    // Resolved per call rather than once: a client kept at module scope reaches the pools of the
    // configuration in effect, not of one a reconfiguration retired. Waits while features load.
    const resolve = async (): Promise<UpstreamClient> => {
      if (this.#pending !== undefined) await this.ready();
      return this.#client(name);
    };
    return {
      name,
      fetch: async (pathOrUrl: string | URL, init?: RequestInit) => (await resolve()).fetch(pathOrUrl, init),
      call: async <T>(work: (call: UpstreamCallContext) => Promise<T>) => (await resolve()).call(work),
      circuitState: () => (this.#pending === undefined ? this.#client(name).circuitState?.() : undefined),
    };
  }

  #client(name: string): UpstreamClient {
    const provider = this.#generation.upstreams();
    if (!provider) throw unknownUpstream(name);
    return provider.client(name, undefined);
  }

  reconfigure(sections: Sections | (() => Promise<Sections>)): Promise<ReconfigureResult> {
    const next = this.#reconfiguring.then(() => this.#reconfigureNow(sections));
    this.#reconfiguring = next;
    return next;
  }

  /** One reconfiguration: never rejects; the result says what happened. */
  async #reconfigureNow(given: Sections | (() => Promise<Sections>)): Promise<ReconfigureResult> {
    const current = this.#generation;
    const restarted: StartedFeature[] = [];
    let input: Sections;
    let next: Generation;
    try {
      if (this.#closed) throw closedError();
      const sections = typeof given === 'function' ? await given() : given;
      const changed = changedFeatures(current.options, this.#input, sections, this.#sources);
      if (changed === undefined) return this.#told({ outcome: 'unchanged', generation: current.number });
      input = { ...this.#input, ...sections };
      // The same checks as createMesh, on the whole configuration.
      const checked = normalizeOptions(input, current.options.features);
      next = current.next(checked, changed, restarted);
      // Before anything can log with them: the new JWT rules' token sources are secret too.
      this.#redactor.widen(checked.secrets);
      this.#start(next, restarted);
      await next.settle(restarted.flatMap((started) => started.work));
      // Closed while the new generation was being built: it never runs.
      if (this.#closed) throw closedError();
    } catch (error) {
      // All or nothing: what was started for the refused generation is closed; no invocation saw it.
      void this.#startAll(
        restarted.flatMap((started) => started.closers),
        'close',
      );
      return this.#told({ outcome: 'rejected', generation: current.number, error });
    }
    this.#input = input;
    this.#generation = next;
    this.#rebuildHooks();
    this.#retire(current, next);
    return this.#told({
      outcome: 'applied',
      generation: next.number,
      restarted: restarted.map((started) => started.feature.name),
    });
  }

  /** Tells the features listening once the mesh is ready (a first load during init is not a reload). */
  #told(result: ReconfigureResult): ReconfigureResult {
    if (this.#pending !== undefined) return result;
    for (const started of this.#generation.features)
      for (const listener of started.reconfigured) {
        try {
          listener(result);
        } catch (error) {
          this.log.warn({ err: error }, 'reconfigure listener failed');
        }
      }
    return result;
  }

  /** Closes what `old` started that `next` does not carry, once no invocation runs on `old`. */
  #retire(old: Generation, next: Generation): void {
    const kept = new Set(next.features);
    const gone = old.features.filter((started) => !kept.has(started));
    let done = false;
    const close = (): Promise<unknown> | undefined => {
      if (done) return undefined;
      done = true;
      this.#retiring.delete(close);
      // Their flushers once more (what the last invocations recorded), then their closers.
      const flushing = this.#startAll(
        gone.flatMap((started) => started.flushers),
        'flush',
      );
      const closing = () =>
        this.#startAll(
          gone.flatMap((started) => started.closers),
          'close',
        );
      return flushing === undefined ? closing() : flushing.then(closing);
    };
    this.#retiring.add(close);
    old.retire(() => void close());
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
    this.#closed = true;
    // A retired generation still draining is closed now too.
    const retiring = [...this.#retiring].map((close) => close());
    const closers = [...this.#generation.features.flatMap((started) => started.closers), ...this.#ownClosers];
    const pending = [this.#startAll(closers, 'close'), ...retiring].filter((work) => work !== undefined);
    if (pending.length > 0) await withinBudget(Promise.all(pending), budgetMs);
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
      onFlush: (flusher) => {
        this.#ownFlushers.push(flusher);
        this.#rebuildHooks();
      },
      onClose: (closer) => this.#ownClosers.push(closer),
      flushPending: (budgetMs) => this.#flushPending(budgetMs),
      cutInFlight: (error) => this.#deadlines.cutAll(error),
    };
  }

  #context(facts: InvocationFacts, generation: Generation): InvocationContext {
    return new InvocationContext(facts, generation);
  }

  #prepareHttp(handler: HttpHandler<never>, options: PrepareOptions): HttpInvoker {
    let chain: HttpNext | undefined;
    /** The generation `chain` was composed for. */
    let composedFor: Generation | undefined;
    const enforce = options.enforceDeadline === true;
    // The kernel's options, which no reconfiguration changes.
    const kernel = this.options;
    const callerDeadline = kernel.invocation.callerDeadline;
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
      const generation = this.#generation;
      // The one check reconfiguration adds to an invocation: is the chain this generation's?
      if (generation !== composedFor) return composeThenRun(request, facts);
      let ctx: InvocationContext;
      try {
        ctx = this.#context(callerDeadline ? withCallerDeadline(request, facts, kernel) : facts, generation);
      } catch (error) {
        return Promise.reject(error);
      }
      return run(ctx, request);
    };
    // The first invocation (after init work) and the first after each reconfiguration.
    const composeThenRun = (request: Request, facts: InvocationFacts): Promise<Response> => {
      if (this.#pending !== undefined) {
        // The deadline runs from arrival, init wait included.
        const arrived =
          facts.deadline === undefined
            ? { ...facts, deadline: Date.now() + kernel.invocation.timeoutMs }
            : facts;
        return this.#pending.then(
          () => runHttp(request, arrived),
          (error: unknown) => failure(this.#context(arrived, this.#generation), error),
        );
      }
      const generation = this.#generation;
      direct = generation.stages!.length === 0;
      chain = composeHttp(generation.stages!, handler);
      composedFor = generation;
      return runHttp(request, facts);
    };
    return runHttp;
  }

  #prepareEvent(handler: EventHandler<never, unknown>, options: PrepareOptions): EventInvoker {
    let chain: EventNext | undefined;
    let composedFor: Generation | undefined;
    const enforce = options.enforceDeadline === true;
    const timeoutMs = this.options.invocation.timeoutMs;
    const runEvent = async (event: unknown, facts: InvocationFacts): Promise<unknown> => {
      if (this.#generation !== composedFor && this.#pending !== undefined) {
        // The deadline runs from arrival, init wait included.
        facts = facts.deadline === undefined ? { ...facts, deadline: Date.now() + timeoutMs } : facts;
        try {
          await this.#pending;
        } catch (error) {
          const ctx = this.#context(facts, this.#generation);
          logInvocationError(ctx, error);
          ctx.dispose();
          throw markLogged(error);
        }
      }
      const generation = this.#generation;
      if (generation !== composedFor) {
        chain = composeEvent(generation.stages!, handler, options.batch === true ? 'batch' : 'event');
        composedFor = generation;
      }
      const ctx = this.#context(facts, generation);
      try {
        const pending = chain!(event, ctx);
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

const closedError = () => new Error('the mesh is closed; there is nothing to reconfigure');

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
  return new MeshImpl(options as Sections, normalizeOptions(options, features ?? []));
}

/** Reaches a mesh's adapter-facing internals. @internal */
export function meshInternals(mesh: Mesh): MeshInternals {
  const internals = (mesh as Partial<Record<typeof internalsKey, MeshInternals>>)[internalsKey];
  if (!internals) throw new TypeError('expected a mesh made by createMesh() from @sidecarless/core');
  return internals;
}
