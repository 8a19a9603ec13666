/**
 * Node `IncomingMessage` → standard Fetch `Request`. The body is streamed, not buffered, and
 * counted as it arrives: past `bodyLimit` bytes the stream errors with a 413 so a handler that
 * reads it fails the same way whether the client declared the length or not.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { targetUrl } from '../authority.js';
import { badRequest, SidecarlessError } from '../errors.js';
import { requestFromFields } from '../lazy-headers.js';
import { createLazyRequest } from '../lazy-request.js';

/**
 * The 413 raised when a request body is larger than the server's `bodyLimit`.
 *
 * @example
 * ```ts
 * import { bodyTooLarge } from '@sidecarless/core/node-server';
 *
 * const error = bodyTooLarge(1024); // status 413, code SCL_ERR_BODY_TOO_LARGE, connection: close
 * ```
 */
export function bodyTooLarge(limit: number): SidecarlessError {
  return new SidecarlessError('SCL_ERR_BODY_TOO_LARGE', `the request body is larger than ${limit} bytes`, {
    status: 413,
    expose: true,
    headers: { connection: 'close' },
  });
}

/** True when the declared `content-length` already exceeds `limit` (checked before invoking). */
export function declaredTooLarge(incoming: IncomingMessage, limit: number): boolean {
  const declared = incoming.headers['content-length'];
  return declared !== undefined && Number(declared) > limit;
}

function bodyStream(incoming: IncomingMessage, limit: number): ReadableStream<Uint8Array> {
  let received = 0;
  let finished = false;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        incoming.on('data', (chunk: Buffer) => {
          if (finished) return;
          received += chunk.length;
          if (received > limit) {
            finished = true;
            // Stop reading: the rest of an oversized body is never buffered. The 413 goes out with
            // `connection: close`, so the unread bytes die with the socket.
            incoming.pause();
            controller.error(bodyTooLarge(limit));
            return;
          }
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
          if ((controller.desiredSize ?? 1) <= 0) incoming.pause();
        });
        incoming.once('end', () => {
          if (finished) return;
          finished = true;
          controller.close();
        });
        incoming.once('error', (error) => {
          if (finished) return;
          finished = true;
          controller.error(badRequest('the request body was cut off', error));
        });
        incoming.once('aborted', () => {
          if (finished) return;
          finished = true;
          controller.error(badRequest('the client aborted the request body'));
        });
      },
      pull() {
        incoming.resume();
      },
      cancel() {
        finished = true;
        // Let Node discard what is left so a keep-alive connection stays usable.
        incoming.resume();
      },
    },
    { highWaterMark: 1 },
  );
}

/**
 * Builds the `Request` a handler sees. The origin comes from the socket (TLS or not) and the checked
 * `Host` header; `X-Forwarded-*` headers are passed along untouched but never trusted for it.
 * Throws a 400 `SidecarlessError` for a request Fetch cannot represent.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { toRequest } from '@sidecarless/core/node-server';
 *
 * createServer(async (incoming, res) => {
 *   const request = toRequest(incoming, 1_048_576);
 *   res.end(`${request.method} ${new URL(request.url).pathname}: ${(await request.text()).length} bytes`);
 * });
 * ```
 */
export function toRequest(incoming: IncomingMessage, bodyLimit: number): Request {
  const raw = incoming.rawHeaders;
  const url = requestUrl(incoming, raw);
  const method = incoming.method ?? 'GET';
  const hasBody =
    method !== 'GET' &&
    method !== 'HEAD' &&
    (incoming.headers['content-length'] !== undefined
      ? incoming.headers['content-length'] !== '0'
      : incoming.headers['transfer-encoding'] !== undefined);
  // Fetch forbids CONNECT, TRACE and TRACK: those take the real constructor, which refuses them.
  if (!hasBody && method !== 'CONNECT' && method !== 'TRACE' && method !== 'TRACK') {
    // No body: a lazy request, whose headers are built only when something reads them. The URL is
    // still parsed (and normalised, as `new Request` would) here, so a target Fetch cannot
    // represent is a 400 before the handler runs. Warm, `new Headers` + three appends +
    // `new Request` measured 2.3–4.0 µs against 0.4–0.7 µs for the URL parse. Together with the
    // in-memory response body (response.ts) and the single-promise deadline race (mesh.ts) this
    // took bench/http-server.bench.ts from 71 to 49 µs of server CPU per request on Node 22. On
    // Node 24 createLazyRequest builds a real request.
    try {
      return createLazyRequest({ url: normalizedUrl(url), method, headers: () => raw, body: null });
    } catch (error) {
      throw badRequest('the request line or headers are not valid HTTP', error);
    }
  }
  try {
    // Appending the raw pairs keeps repeated headers apart; it measured ~0.8 µs cheaper than
    // handing Request an array of pairs.
    return requestFromFields(
      url,
      hasBody
        ? ({ method, body: bodyStream(incoming, bodyLimit), duplex: 'half' } as RequestInit)
        : { method },
      raw,
    );
  } catch (error) {
    throw badRequest('the request line or headers are not valid HTTP', error);
  }
}

/**
 * The request's URL: the scheme from the connection (never from the target or a header), the
 * authority from the checked `Host` — or, for an absolute-form target (`GET http://h/x`, what
 * proxies are sent), from the target, whose authority wins over Host (RFC 9112 §3.2.2) — and the
 * target's path and query. Anything else (a second Host, `*`, an authority-form target, a scheme
 * other than http(s)) is a 400.
 */
function requestUrl(incoming: IncomingMessage, raw: readonly string[]): string {
  const scheme = (incoming.socket as Partial<TLSSocket>).encrypted ? 'https' : 'http';
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && (name === 'Host' || name === 'host' || name.toLowerCase() === 'host')) hosts++;
  }
  // Node keeps only the first of several Host lines; RFC 9112 §3.2 asks for a 400.
  if (hosts > 1) throw badRequest('the request has more than one Host header');
  return targetUrl(scheme, incoming.headers.host, incoming.url ?? '/');
}

/**
 * An origin (lower-case host, a port that is not the scheme's default) and a target made only of
 * characters the URL parser keeps as they are, with no dot segment: such a URL is already in the
 * form `new URL(url).href` gives. Checking that costs ~0.05 µs against ~0.8 µs for the parse,
 * which every other URL still gets.
 */
const alreadyNormal =
  /^https?:\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)*(?::(?!0)\d{1,5})?\/(?:[A-Za-z0-9\-_~!$&()*+,;=:@%]|\/|\.(?![./?]|$))*(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@%/?]*)?$/;
// Percent-encoded dots are dot segments to the parser too.
const encodedDot = /%2e/i;
const defaultPort = /^http:\/\/[^/]*:80\/|^https:\/\/[^/]*:443\//;

function normalizedUrl(url: string): string {
  if (alreadyNormal.test(url) && !defaultPort.test(url) && !url.includes('/.') && !encodedDot.test(url)) {
    return url;
  }
  return new URL(url).href;
}
