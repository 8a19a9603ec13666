/**
 * The local adapter: runs a handler through the full pipeline in-process, with no platform.
 * Unit tests, docs and the demo use it; it is a real adapter, held to the same contract as
 * the others.
 */

import { prepareEvent, prepareHttp } from './adapter.js';
import type { Duration } from './duration.js';
import { parseDuration } from './duration.js';
import type { EventInvoker, HttpInvoker, Mesh } from './mesh.js';
import type { EventHandler, HttpHandler } from './pipeline.js';

/** What `ctx.raw` holds under the local adapter. */
export interface LocalRaw {
  /** The request as given to `invoke` (HTTP), or undefined for events. */
  readonly request: Request | undefined;
}

/** Per-call options of {@link invoke} and {@link invokeEvent}. */
export interface InvokeOptions {
  /** Absolute deadline in epoch ms. */
  deadline?: number;
  /** Deadline relative to now; ignored when `deadline` is set. Default: the mesh's `invocation.timeout`. */
  timeout?: Duration;
  /** The invocation id; a UUID when absent. */
  invocationId?: string;
  /** The direct peer's address (`source.ip`, the rate limits' `clientAddress`), as a server would see it. */
  sourceIp?: string;
}

// Prepared pipelines are cached per mesh and per handler, so repeated `invoke` calls pay for the
// fold once, as a real adapter does. Keyed by the mesh object: two meshes share nothing.
const preparedHttp = new WeakMap<Mesh, WeakMap<object, HttpInvoker>>();
const preparedEvent = new WeakMap<Mesh, WeakMap<object, EventInvoker>>();

function cached<T>(cache: WeakMap<Mesh, WeakMap<object, T>>, mesh: Mesh, handler: object, make: () => T): T {
  let perMesh = cache.get(mesh);
  if (!perMesh) {
    perMesh = new WeakMap();
    cache.set(mesh, perMesh);
  }
  let invoker = perMesh.get(handler);
  if (!invoker) {
    invoker = make();
    perMesh.set(handler, invoker);
  }
  return invoker;
}

function deadlineOf(options: InvokeOptions): number | undefined {
  if (options.deadline !== undefined) return options.deadline;
  if (options.timeout === undefined) return undefined;
  const ms = parseDuration(options.timeout);
  if (ms === undefined)
    throw new TypeError(`timeout: ${String(options.timeout)} is not a duration; use "2s" or 2000`);
  return Date.now() + ms;
}

/**
 * Runs an HTTP handler through `mesh`'s pipeline and returns its response. A handler still
 * running at the deadline gets its `ctx.signal` aborted and the caller a 504.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { invoke } from '@sidecarless/core/local';
 *
 * const mesh = createMesh({ service: 'hello' });
 * const response = await invoke(mesh, (request) => Response.json({ path: new URL(request.url).pathname }),
 *   new Request('http://localhost/hello', { method: 'POST', body: '{}' }), { timeout: '1s' });
 * console.log(response.status, await response.json());
 * ```
 */
export function invoke(
  mesh: Mesh,
  handler: HttpHandler<LocalRaw>,
  request: Request | string | URL,
  options: InvokeOptions = {},
): Promise<Response> {
  const run = cached(preparedHttp, mesh, handler, () =>
    prepareHttp(mesh, handler, { enforceDeadline: true }),
  );
  const req = request instanceof Request ? request : new Request(request);
  const raw: LocalRaw = { request: req };
  return run(req, {
    platform: 'local',
    trigger: 'http',
    invocationId: options.invocationId,
    deadline: deadlineOf(options),
    sourceIp: options.sourceIp,
    raw,
  });
}

/**
 * Runs an event handler through `mesh`'s pipeline; rejects with the handler's error.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { invokeEvent } from '@sidecarless/core/local';
 *
 * const mesh = createMesh({ service: 'stock' });
 * const total = await invokeEvent(mesh, (event: { items: number[] }) => event.items.reduce((a, b) => a + b, 0),
 *   { items: [1, 2, 3] });
 * ```
 */
export async function invokeEvent<Event, Result>(
  mesh: Mesh,
  handler: EventHandler<Event, Result, LocalRaw>,
  event: Event,
  options: InvokeOptions = {},
): Promise<Result> {
  const run = cached(preparedEvent, mesh, handler, () =>
    prepareEvent(mesh, handler, { enforceDeadline: true }),
  );
  const raw: LocalRaw = { request: undefined };
  return (await run(event, {
    platform: 'local',
    trigger: 'other',
    invocationId: options.invocationId,
    deadline: deadlineOf(options),
    raw,
  })) as Result;
}
