/**
 * `json()` and `text()`: the documented way for a handler to answer. Each returns a
 * {@link LazyResponse} — a `Response` in every respect a handler or adapter uses — without
 * loading Node's Fetch implementation: a bare Lambda handler answering through `Response.json`
 * adds ~24–31 ms to its first invocation on Node 22, and ~25 µs to each warm one, against
 * ~0.3 µs here (bench/realistic-function.bench.ts).
 */
import { LazyResponse } from './lazy-response.js';

/**
 * `data` as JSON with `content-type: application/json`, like `Response.json`.
 *
 * @example
 * ```ts
 * import { createMesh, json } from '@sidecarless/core';
 * import { invoke } from '@sidecarless/core/local';
 *
 * const mesh = createMesh({ service: 'orders' });
 * const response = await invoke(mesh, async () => json({ id: 42 }, { status: 201 }), 'http://localhost/orders');
 * console.log(response.status, await response.json()); // 201 { id: 42 }
 * ```
 */
export function json(data: unknown, init?: ResponseInit): Response {
  return LazyResponse.json(data, init);
}

/**
 * `body` as text with `content-type: text/plain;charset=UTF-8` (unless `init.headers` names
 * another), like `new Response(body)`.
 *
 * @example
 * ```ts
 * import { text } from '@sidecarless/core';
 *
 * const ok = text('ok');
 * const missing = text('no such order', { status: 404 });
 * ```
 */
export function text(body: string, init?: ResponseInit): Response {
  return new LazyResponse(body, init) as unknown as Response;
}
