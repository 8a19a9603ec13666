/**
 * Reading the handler's `Response` back into a Lambda result.
 *
 * `await response.text()` goes through a web stream: ~60–130 µs per call on Node 22 for a
 * small JSON body (bench/lambda-overhead.bench.ts, "read body" rows), more than the whole rest
 * of the adapter. A `LazyResponse` hands its body over as it is; for a standard one Node 22's
 * Fetch keeps the value it was built from (a string or bytes), which `inMemoryBody` from the
 * adapter kit takes when the body has not been touched. Anything else (streams, Blobs, Node 24,
 * which keeps that state private) is read from the body stream.
 */
import { inMemoryBody, takePlainResponse } from '@sidecarless/core/adapter';
import type { ResponseParts } from './common.js';

/** Decides whether a response body goes out base64-encoded. */
export type BinaryPredicate = (contentType: string, contentEncoding: string | undefined) => boolean;

const textType =
  /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded|graphql)|[^;]*\+(json|xml))|^image\/svg\+xml/i;

/**
 * The default: text types and JSON/XML go out as text; everything else, and any body with a
 * `content-encoding` (gzip, br; an empty one or `identity` is none), as base64. A body with no
 * content type at all is decided by what it is, before this predicate runs: bytes go out
 * base64 (the only lossless way), a string as text.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { isBinaryByDefault, lambda } from '@sidecarless/lambda';
 *
 * // Also send CSV as base64, keep the default for everything else.
 * export const handler = lambda(createMesh({ service: 'export' }), async () => new Response('a,b'), {
 *   isBinary: (type, encoding) => type.startsWith('text/csv') || isBinaryByDefault(type, encoding),
 * });
 * ```
 */
export const isBinaryByDefault: BinaryPredicate = (contentType, contentEncoding) => {
  if (contentEncoding !== undefined) {
    const coding = contentEncoding.trim().toLowerCase();
    if (coding !== '' && coding !== 'identity') return true;
  }
  if (contentType === '') return false;
  return !textType.test(contentType);
};

async function bodyBytesOrText(response: Response): Promise<string | Uint8Array | null> {
  const whole = inMemoryBody(response);
  if (whole !== undefined) return whole;
  const body = response.body;
  if (body === null) return null;
  // Reading the stream ourselves is 10–25% cheaper than `arrayBuffer()` on Node 22 and 24 for a
  // small body (one chunk, no copy), measured interleaved; the result is the same bytes.
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

/**
 * Everything a Lambda result needs from `response`; synchronously for a `LazyResponse` (its
 * fields and body as they are: no Headers walk, no stream, no await).
 */
export function responseParts(
  response: Response,
  isBinary: BinaryPredicate,
  head: boolean,
): ResponseParts | Promise<ResponseParts> {
  const plain = takePlainResponse(response);
  if (plain !== undefined) {
    return partsOf(plain.status, plain.headers, plain.cookies ?? [], head ? null : plain.body, isBinary);
  }
  return readResponseParts(response, isBinary, head);
}

async function readResponseParts(
  response: Response,
  isBinary: BinaryPredicate,
  head: boolean,
): Promise<ResponseParts> {
  const headers: Record<string, string> = {};
  let cookies: string[] = [];
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue;
    headers[name] = value;
  }
  if (response.headers.has('set-cookie')) cookies = response.headers.getSetCookie();
  if (head) {
    await response.body?.cancel().catch(() => {});
    return { status: response.status, headers, cookies, body: '', isBase64Encoded: false };
  }
  return partsOf(response.status, headers, cookies, await bodyBytesOrText(response), isBinary);
}

function partsOf(
  status: number,
  headers: Record<string, string>,
  cookies: string[],
  raw: string | Uint8Array | null,
  isBinary: BinaryPredicate,
): ResponseParts {
  if (raw === null || raw.length === 0) {
    return { status, headers, cookies, body: '', isBase64Encoded: false };
  }
  const contentType = headers['content-type'] ?? '';
  // Bytes of no stated type cannot go out as text without losing the ones UTF-8 cannot hold.
  const binary =
    (contentType === '' && typeof raw !== 'string') || isBinary(contentType, headers['content-encoding']);
  if (binary) {
    const bytes =
      typeof raw === 'string' ? Buffer.from(raw) : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    return { status, headers, cookies, body: bytes.toString('base64'), isBase64Encoded: true };
  }
  const body =
    typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  return { status, headers, cookies, body, isBase64Encoded: false };
}
