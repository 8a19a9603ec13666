import { type LambdaProxyResultV2, lambda } from '@sidecarless/lambda';
import { lambdaContext } from '@sidecarless/testing';
import { contractHandler, createContractMesh } from '../function.ts';
import type { AdapterUnderTest } from '../harness.ts';

const textType = /^(text\/|application\/(json|x-www-form-urlencoded))/;

/**
 * Builds the event API Gateway (HTTP API, payload 2.0) would deliver for `request`: lower-case
 * headers, cookies split out, non-text bodies base64-encoded.
 */
async function toHttpApiEvent(request: Request): Promise<Record<string, unknown>> {
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of request.headers) {
    if (name === 'cookie') cookies = value.split('; ');
    else headers[name] = value;
  }
  headers.host = url.host;
  headers['x-forwarded-proto'] = url.protocol.slice(0, -1);
  const bytes = new Uint8Array(await request.arrayBuffer());
  const isText = textType.test(request.headers.get('content-type') ?? 'text/plain');
  const event: Record<string, unknown> = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      apiId: 'contract',
      domainName: url.host,
      http: { method: request.method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
      requestId: crypto.randomUUID(),
      routeKey: '$default',
      stage: '$default',
      timeEpoch: Date.now(),
    },
    isBase64Encoded: bytes.length > 0 && !isText,
  };
  if (cookies) event.cookies = cookies;
  if (bytes.length > 0)
    event.body = isText ? Buffer.from(bytes).toString('utf8') : Buffer.from(bytes).toString('base64');
  return event;
}

/** Turns the Lambda result back into what API Gateway would send the client. */
function fromResult(result: LambdaProxyResultV2): Response {
  const headers = new Headers(result.headers);
  for (const cookie of result.cookies ?? []) headers.append('set-cookie', cookie);
  const body = result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
  const empty = result.statusCode === 204 || result.statusCode === 304;
  return new Response(empty ? null : body, { status: result.statusCode, headers });
}

/** AWS Lambda behind an API Gateway HTTP API, in-process (the RIC suite covers the runtime). */
export const lambdaAdapter: AdapterUnderTest = {
  name: 'aws-lambda (HTTP API)',
  platform: 'aws-lambda',
  async start() {
    const mesh = createContractMesh();
    const handler = lambda(mesh, contractHandler);
    return {
      send: async (request) =>
        fromResult((await handler(await toHttpApiEvent(request), lambdaContext())) as LambdaProxyResultV2),
      stop: () => mesh.close(),
    };
  },
};
