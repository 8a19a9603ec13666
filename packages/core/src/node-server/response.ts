/**
 * Standard `Response` → Node `ServerResponse`: every `Set-Cookie` as its own header, binary
 * bodies streamed with backpressure, no body for `HEAD`, 204 and 304.
 */
import { Buffer } from 'node:buffer';
import type { ServerResponse } from 'node:http';
import type { ReadableStreamReadResult } from 'node:stream/web';
import { takePlainResponse } from '../lazy-response.js';
import { inMemoryBody } from '../response-source.js';

/**
 * Writes `response` to `res`; resolves when it is sent or the client went away. Pass
 * `closeConnection` to end a keep-alive connection after this response (the server does while
 * draining).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { writeResponse } from '@sidecarless/core/node-server';
 *
 * createServer((incoming, res) => {
 *   void writeResponse(res, Response.json({ ok: true }), incoming.method ?? 'GET');
 * });
 * ```
 */
export async function writeResponse(
  res: ServerResponse,
  response: Response,
  method: string,
  closeConnection = false,
): Promise<void> {
  await sendResponse(res, response, method, closeConnection);
}

/**
 * {@link writeResponse} for the server's hot path: returns undefined when the response went out
 * synchronously (no body, or one held in memory), so the caller awaits nothing.
 */
export function sendResponse(
  res: ServerResponse,
  response: Response,
  method: string,
  closeConnection: boolean,
): Promise<void> | undefined {
  const plain = takePlainResponse(response);
  if (plain !== undefined) {
    // A LazyResponse: its status, fields and body as they are.
    const headers = withConnectionFields(plain.headers, plain.cookies, closeConnection);
    writeWhole(res, plain.status, headers, sendsBody(method, plain.status) ? plain.body : null);
    return undefined;
  }
  const fields: Record<string, string | string[]> = {};
  let cookies: string[] | undefined;
  // Iterating a Headers yields each Set-Cookie on its own (the rest combined), so one pass
  // collects both without a getSetCookie() call.
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') fields[name] = value;
    else if (cookies) cookies.push(value);
    else cookies = [value];
  }
  const headers = withConnectionFields(fields, cookies, closeConnection);
  const status = response.status;
  const body = response.body;
  if (body === null || !sendsBody(method, status)) {
    writeWhole(res, status, headers, null);
    return body === null ? undefined : body.cancel().catch(() => {});
  }
  const whole = inMemoryBody(response);
  if (whole !== undefined) {
    writeWhole(res, status, headers, whole);
    return undefined;
  }
  return streamBody(res, status, headers, body);
}

/** False for the answers that carry no body whatever the handler gave: HEAD, 204 and 304. */
function sendsBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status !== 204 && status !== 304;
}

/** The header fields with every Set-Cookie on its own and, when asked, `connection: close`. */
function withConnectionFields(
  fields: Record<string, string | string[]>,
  cookies: string[] | undefined,
  closeConnection: boolean,
): Record<string, string | string[]> {
  if (cookies) fields['set-cookie'] = cookies;
  if (closeConnection) fields.connection = 'close';
  return fields;
}

/**
 * The head and a body held in memory (or none), in one write as a bare server does: a string
 * goes out concatenated with the head.
 */
function writeWhole(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
  body: string | Uint8Array | null,
): void {
  if (body !== null) {
    headers['content-length'] ??= String(
      typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    );
  }
  res.writeHead(status, headers);
  if (body === null) res.end();
  else res.end(body);
}

async function streamBody(
  res: ServerResponse,
  status: number,
  headers: Record<string, string | string[]>,
  body: ReadableStream<Uint8Array>,
): Promise<void> {
  const reader = body.getReader();
  // Most handler bodies arrive as one chunk (a string, JSON, a buffer). Reading one step ahead lets
  // us send those with a content-length in a single write — no chunked encoding, no second
  // syscall (bench/http-server.bench.ts). An in-memory body reports its end within two microtask
  // turns; we wait at most four, so a live stream (server-sent events, say) whose next chunk is
  // not ready yet is not held back. Racing a setImmediate instead cost ~8 µs more per response.
  const first = await reader.read();
  if (first.done) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  let ahead: ReadableStreamReadResult<Uint8Array> | undefined;
  let next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined = reader.read().then((result) => {
    ahead = result;
    return result;
  });
  for (let turn = 0; turn < 4 && ahead === undefined; turn++) await null;
  if (ahead?.done) {
    if (headers['content-length'] === undefined) headers['content-length'] = String(first.value.byteLength);
    res.writeHead(status, headers);
    res.end(first.value);
    return;
  }
  res.writeHead(status, headers);
  if (!res.write(first.value)) await drained(res);
  let clientGone = false;
  const onClose = () => {
    if (res.writableFinished) return;
    clientGone = true;
    reader.cancel().catch(() => {});
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await (next ?? reader.read());
      next = undefined;
      if (done || clientGone) break;
      if (!res.write(value)) await drained(res);
    }
    if (!clientGone) res.end();
  } catch {
    // The handler's body stream failed after the status line went out: the only honest signal left
    // is to cut the connection so the client sees a truncated response, not a complete one.
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const settle = () => {
      res.off('drain', settle);
      res.off('close', settle);
      resolve();
    };
    res.once('drain', settle);
    res.once('close', settle);
  });
}
