/**
 * Standard `Response` → Node `ServerResponse`: every `Set-Cookie` as its own header, binary
 * bodies streamed with backpressure, no body for `HEAD`, 204 and 304.
 */
import type { ServerResponse } from 'node:http';
import type { ReadableStreamReadResult } from 'node:stream/web';

/** Writes `response` to `res`; resolves when it is sent or the client went away. */
export async function writeResponse(
  res: ServerResponse,
  response: Response,
  method: string,
  closeConnection = false,
): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    if (name !== 'set-cookie') headers[name] = value;
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  if (closeConnection) headers.connection = 'close';
  const status = response.status;
  const body = response.body;
  if (body === null || method === 'HEAD' || status === 204 || status === 304) {
    res.writeHead(status, headers);
    res.end();
    if (body !== null) await body.cancel().catch(() => {});
    return;
  }
  const reader = body.getReader();
  // Most handler bodies arrive as one chunk (a string, JSON, a buffer). Reading one step ahead lets
  // us send those with a content-length in a single write — no chunked encoding, no second
  // syscall (bench/http-server.bench.ts). A stream whose next chunk is not ready within the
  // current turn of the event loop (server-sent events, say) is not held back: its first chunk
  // goes out at once.
  const first = await reader.read();
  let next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  if (first.done) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  next = reader.read();
  const ahead = await Promise.race([next, nextTurn()]);
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

function nextTurn(): Promise<undefined> {
  return new Promise((resolve) => setImmediate(() => resolve(undefined)));
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
