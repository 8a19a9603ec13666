/**
 * The adapter kit: what a platform adapter (`@sidecarless/lambda`, `@sidecarless/knative`…)
 * needs from the kernel and nothing else. Adapters translate their platform's event into a
 * `Request` (or a typed event) plus {@link InvocationFacts}, call the prepared invoker, and
 * translate the result back. They never implement policy.
 *
 * @example
 * ```ts
 * import { createMesh, type HttpHandler } from '@sidecarless/core';
 * import { prepareHttp } from '@sidecarless/core/adapter';
 *
 * // A toy adapter for a platform that hands us { url, requestId }.
 * function toyAdapter(mesh: ReturnType<typeof createMesh>, handler: HttpHandler) {
 *   const run = prepareHttp(mesh, handler);
 *   return async (event: { url: string; requestId: string }) => {
 *     const response = await run(new Request(event.url), { platform: 'toy', invocationId: event.requestId });
 *     return { status: response.status, body: await response.text() };
 *   };
 * }
 * ```
 */
import {
  type EventInvoker,
  type Flusher,
  type HttpInvoker,
  type Mesh,
  meshInternals,
  type PrepareOptions,
} from './mesh.js';
import type { EventHandler, HttpHandler } from './pipeline.js';

export { checkedAuthority, requestOrigin, targetUrl } from './authority.js';
export type { InvocationFacts, Platform, Trigger } from './context.js';
export { deadlineError, InvocationContext } from './context.js';
export { describeError, errorToResponse, type ProblemBody, reasonPhrase } from './error-response.js';
export { asBadRequest, badRequest, shuttingDown } from './errors.js';
export { FlushTimes } from './flush-times.js';
export { createLazyRequest, isLazyRequest, type LazyRequestInit } from './lazy-request.js';
export { type PlainResponse, takePlainResponse } from './lazy-response.js';
export type { EventInvoker, Flusher, HttpInvoker, PrepareOptions } from './mesh.js';
export { wasLogged } from './mesh.js';
export { inMemoryBody } from './response-source.js';

/**
 * Prepares `handler` to run through `mesh`'s pipeline. Call once per handler, at wrap time; the
 * returned invoker is called per invocation and never rejects (errors become responses).
 */
export function prepareHttp<Raw>(
  mesh: Mesh,
  handler: HttpHandler<Raw>,
  options?: PrepareOptions,
): HttpInvoker {
  const internals = meshInternals(mesh); // first: a clear error for what is not a mesh
  getReadyNow(mesh);
  return internals.prepareHttp(handler as HttpHandler<never>, options);
}

/**
 * Starts loading the configured features at wrap time — on Lambda, during the init phase, which
 * no caller waits on — rather than on the first invocation (where the telemetry exporter, for one,
 * loaded `node:http` and connected inside a timed-out invocation's safety margin). Not awaited: a
 * failure is kept by `mesh.ready()` and answered on the first invocation, as before.
 */
function getReadyNow(mesh: Mesh): void {
  mesh.ready().catch(() => {});
}

/**
 * Prepares an event `handler`. The invoker rejects with the handler's error (after logging it
 * once), so the platform's retry semantics hold.
 */
export function prepareEvent<Event, Result, Raw>(
  mesh: Mesh,
  handler: EventHandler<Event, Result, Raw>,
  options?: PrepareOptions,
): EventInvoker {
  const internals = meshInternals(mesh);
  getReadyNow(mesh);
  return internals.prepareEvent(handler as EventHandler<never, unknown>, options);
}

/** Registers work to run on `mesh.flush()` — before Lambda freezes the process, or on SIGTERM. */
export function onFlush(mesh: Mesh, flusher: Flusher): void {
  meshInternals(mesh).onFlush(flusher);
}

/** Registers work to run on `mesh.close()`. */
export function onClose(mesh: Mesh, closer: Flusher): void {
  meshInternals(mesh).onClose(closer);
}

/**
 * Fails every invocation still running under an enforced deadline (servers) with `error` — a
 * drain whose grace period is over: each caller gets the error's response, its span ends as an
 * error and its access line is written, so the flush that follows exports them. Returns how many
 * were cut.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { cutInFlight, shuttingDown } from '@sidecarless/core/adapter';
 *
 * const mesh = createMesh({ service: 'orders' });
 * const cut = cutInFlight(mesh, shuttingDown()); // 0: nothing is running
 * ```
 */
export function cutInFlight(mesh: Mesh, error: unknown): number {
  return meshInternals(mesh).cutInFlight(error);
}

/**
 * {@link Mesh.flush} for an adapter's hot path: undefined when everything was flushed
 * synchronously, else the promise to await (bounded by `budgetMs`, never rejecting).
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { flushPending } from '@sidecarless/core/adapter';
 *
 * const mesh = createMesh({ service: 'orders' });
 * const pending = flushPending(mesh, 500);
 * if (pending) await pending;
 * ```
 */
export function flushPending(mesh: Mesh, budgetMs: number): Promise<void> | undefined {
  return meshInternals(mesh).flushPending(budgetMs);
}
