/**
 * The invocation pipeline: stages folded once around the user's handler.
 *
 * Order, outermost first: the built-in feature stages in the order features.ts states (each
 * turned on only when configured), then `options.middleware` in the order given, then the
 * handler. A stage that is not configured is not in the list, so it costs
 * nothing per call.
 */

import { ErrorCodes, SidecarlessError } from './errors.js';
import { isLazyResponse } from './lazy-response.js';
import type { EventHandler, EventNext, HttpHandler, HttpNext, MeshContext, Stage } from './types.js';

export type { EventHandler, EventNext, HttpHandler, HttpNext, Stage };

function isResponse(value: unknown): value is Response {
  // A LazyResponse first: `instanceof Response` would load Node's Fetch (deferred-prototype.ts).
  if (isLazyResponse(value) || value instanceof Response) return true;
  // A Response from another copy of undici (the npm package) is not `instanceof` the global one.
  const candidate = value as Partial<Response> | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.status === 'number' &&
    typeof candidate.headers?.get === 'function' &&
    typeof candidate.arrayBuffer === 'function'
  );
}

/** Folds the HTTP stages around `handler`. Called once per handler. */
export function composeHttp(stages: readonly Stage[], handler: HttpHandler<never>): HttpNext {
  const call = handler as HttpHandler<unknown>;
  // Not an async function: a handler that answers synchronously, or with a promise, is passed
  // through without the extra promise and microtask turn an `await` here would add per call.
  let next: HttpNext = function callHttpHandler(request, ctx) {
    let result: Response | Promise<Response>;
    try {
      result = callHandler(call, request, ctx);
    } catch (error) {
      return Promise.reject(error);
    }
    return isPending(result) ? result : Promise.resolve(result);
  };
  for (let i = stages.length - 1; i >= 0; i--) {
    const wrap = stages[i]!.http;
    if (wrap) next = wrap.call(stages[i], next);
  }
  return next;
}

/**
 * Whether a handler's (checked) result is still to come. By its `then`, not `instanceof
 * Promise`, which would walk a LazyResponse's prototype chain to the end and so load Node's Fetch
 * (deferred-prototype.ts).
 */
export function isPending<T>(result: T | Promise<T>): result is Promise<T> {
  return typeof (result as { then?: unknown }).then === 'function';
}

/**
 * Calls `handler` and checks it answered with a `Response`: the checked response itself when the
 * handler answered synchronously, else a promise of it. Throws synchronously what a synchronous
 * handler throws, or a 500 for anything but a `Response`.
 */
export function callHandler<Raw>(
  handler: HttpHandler<Raw>,
  request: Request,
  ctx: MeshContext<Raw>,
): Response | Promise<Response> {
  const result = handler(request, ctx);
  // A LazyResponse is recognised by its brand before any `instanceof`: one against another class
  // walks its whole prototype chain, which links it to Node's Fetch (deferred-prototype.ts).
  if (isLazyResponse(result)) return result;
  if (result instanceof Promise) return result.then(checkedResponse);
  if (typeof (result as { then?: unknown } | null)?.then === 'function') {
    return Promise.resolve(result).then(checkedResponse);
  }
  return checkedResponse(result);
}

function checkedResponse(result: unknown): Response {
  if (!isResponse(result)) {
    throw new SidecarlessError(
      ErrorCodes.invalidHandlerResult,
      `the handler returned ${describeResult(result)}; HTTP handlers must return a Response (for example Response.json(data))`,
      { status: 500 },
    );
  }
  return result;
}

/** Folds the event stages around `handler`. Called once per handler. */
export function composeEvent(
  stages: readonly Stage[],
  handler: EventHandler<never, unknown>,
  around: 'event' | 'batch' = 'event',
): EventNext {
  const call = handler as EventHandler<unknown, unknown>;
  let next: EventNext = async function callEventHandler(event, ctx) {
    return call(event, ctx);
  };
  // A batch run takes only the stages that wrap batches (telemetry's invocation span): user
  // middleware and policy stages run on each record's own run, inside it.
  for (let i = stages.length - 1; i >= 0; i--) {
    const wrap = stages[i]![around];
    if (wrap) next = wrap.call(stages[i], next);
  }
  return next;
}

function describeResult(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return 'a string';
  return typeof value === 'object' ? 'a plain object' : typeof value;
}
