/** Sends a `Request` written against any origin to a real server at `baseUrl`, path and query kept. */

/**
 * Re-targets `request` at `baseUrl` and sends it with the global `fetch` (no redirects followed).
 *
 * @example
 * ```ts
 * import { forward } from '@sidecarless/testing';
 *
 * const response = await forward('http://127.0.0.1:8080', new Request('http://contract.test/echo?x=1'));
 * ```
 */
export async function forward(
  baseUrl: string,
  request: Request,
  extraHeaders: Readonly<Record<string, string>> = {},
): Promise<Response> {
  const source = new URL(request.url);
  const target = new URL(`${source.pathname}${source.search}`, baseUrl);
  const headers = new Headers(request.headers);
  for (const [name, value] of Object.entries(extraHeaders)) headers.set(name, value);
  const body =
    request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
  return fetch(target, {
    method: request.method,
    headers,
    redirect: 'manual',
    ...(body === undefined ? {} : { body }),
  });
}
