/**
 * The body a standard `Response` was built from, read without its web stream where the runtime
 * allows it.
 */

/**
 * The Fetch implementation's key for a `Response`'s internal state, found once by probing, or
 * null where the runtime keeps that state private (Node 24) or shapes it differently.
 */
let responseStateKey: symbol | null | undefined;

function findResponseStateKey(): symbol | null {
  const probe = new Response('probe');
  for (const key of Object.getOwnPropertySymbols(probe)) {
    const state = (probe as unknown as Record<symbol, { body?: { source?: unknown } } | undefined>)[key];
    if (state?.body?.source === 'probe') return key;
  }
  return null;
}

/**
 * The whole body of a `Response` built from a string or bytes (`new Response('hi')`,
 * `Response.json(...)`), read from what it was built with instead of through its web stream;
 * undefined for anything else (a stream, a Blob, a body already touched), which is then streamed.
 * Reading a one-chunk body through the stream (a reader, two reads, microtask turns to see its
 * end) was the largest cost left in the trivial-handler bench on Node 22
 * (bench/http-server.bench.ts); with the lazy request (request.ts) and the single-promise
 * deadline race (mesh.ts) it took that bench from 71 to 49 µs of server CPU per request.
 * Node 24 keeps the state private, so there every body takes the stream path. Used by the
 * Node server and the Lambda adapter (which was reading it through a copy of this probe).
 *
 * @example
 * ```ts
 * import { inMemoryBody } from '@sidecarless/core/adapter';
 *
 * const body = inMemoryBody(new Response('hi')); // 'hi' on Node 22, undefined on Node 24
 * ```
 */
export function inMemoryBody(response: Response): string | Uint8Array | undefined {
  if (responseStateKey === undefined) responseStateKey = findResponseStateKey();
  if (responseStateKey === null || response.bodyUsed) return undefined;
  const body = (
    response as unknown as Record<
      symbol,
      { body?: { source?: unknown; stream?: ReadableStream } | null } | undefined
    >
  )[responseStateKey]?.body;
  if (body?.stream?.locked !== false) return undefined;
  const source = body.source;
  return typeof source === 'string' || source instanceof Uint8Array ? source : undefined;
}
