/**
 * Standard `Response` → Node `ServerResponse`: every `Set-Cookie` as its own header, binary
 * bodies streamed with backpressure, no body for `HEAD`, 204 and 304.
 */
import type { ServerResponse } from 'node:http';

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
  res.writeHead(status, headers);
  const reader = body.getReader();
  let clientGone = false;
  const onClose = () => {
    if (res.writableFinished) return;
    clientGone = true;
    reader.cancel().catch(() => {});
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || clientGone) break;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const settle = () => {
            res.off('drain', settle);
            res.off('close', settle);
            resolve();
          };
          res.once('drain', settle);
          res.once('close', settle);
        });
      }
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
