/**
 * Reading a body that the lazy request or `LazyResponse` holds as it was given (a string or
 * bytes), with the results Fetch's `text()` and `bytes()` give for the same body.
 */
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** As Fetch's `text()`: UTF-8, with a leading byte order mark dropped (as its decoder drops it). */
export function heldText(body: string | Uint8Array): string {
  if (typeof body !== 'string') return decoder.decode(body);
  return body.charCodeAt(0) === 0xfeff ? body.slice(1) : body;
}

/** As Fetch's `bytes()`: a copy, which the caller may write to. */
export function heldBytes(body: string | Uint8Array): Uint8Array<ArrayBuffer> {
  return typeof body === 'string' ? encoder.encode(body) : new Uint8Array(body);
}
