/**
 * The async-local context manager the mesh registers with `@opentelemetry/api` when it sets up
 * tracing itself, so that `trace.getActiveSpan()` in handler code finds the invocation span.
 *
 * Why not `@opentelemetry/context-async-hooks`: the manager is a dozen lines over Node's
 * `AsyncLocalStorage`, and the package measured 4–6 ms to load and enable in a bundled function
 * (its abstract base and event-emitter patching included), more than the light tracer's own
 * modules. Functions are bound; other targets (event emitters) are returned unchanged.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { type Context, type ContextManager, ROOT_CONTEXT } from '@opentelemetry/api';

export class AsyncLocalContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const callback = thisArg === undefined || thisArg === null ? fn : fn.bind(thisArg);
    return this.#storage.run(context, callback, ...args);
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const manager = this;
    const fn = target as unknown as (...args: unknown[]) => unknown;
    return function bound(this: unknown, ...args: unknown[]) {
      return manager.with(context, () => fn.apply(this, args));
    } as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.#storage.disable();
    return this;
  }
}
