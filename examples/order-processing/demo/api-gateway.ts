/**
 * A small stand-in for API Gateway's HTTP API in front of a Lambda function: each HTTP request
 * becomes a payload-format 2.0 event, is handed to the function through the Runtime API server
 * (which aws-lambda-ric polls, as on Lambda), and the function's proxy result becomes the HTTP
 * response. A Lambda error becomes 502, as API Gateway answers.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RuntimeApiServer } from '@sidecarless/testing';

/** A running front. */
export interface ApiGatewayFront {
  readonly url: string;
  close(): Promise<void>;
}

interface ProxyResult {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Builds the HTTP API (payload 2.0) event API Gateway would send for `request`. */
export function httpApiEvent(
  request: IncomingMessage,
  body: Buffer,
  now = new Date(),
): Record<string, unknown> {
  const url = new URL(request.url ?? '/', 'http://front.local');
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    if (name === 'cookie') cookies.push(...String(value).split(/;\s*/));
    else headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const text = body.toString('utf8');
  const binary = body.length > 0 && Buffer.from(text, 'utf8').compare(body) !== 0;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies.length > 0 ? { cookies } : {}),
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'demo',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'demo',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: binary ? body.toString('base64') : text } : {}),
    isBase64Encoded: binary,
  };
}

/** Starts the front on 127.0.0.1, invoking the function with a `timeoutMs` Lambda timeout. */
export async function startApiGatewayFront(
  api: RuntimeApiServer,
  timeoutMs: number,
): Promise<ApiGatewayFront> {
  const server = createServer(async (request, response) => {
    try {
      const event = httpApiEvent(request, await readBody(request));
      const outcome = await api.invoke({
        event,
        timeoutMs,
        functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:orders',
      });
      if (outcome.kind !== 'response') {
        response
          .writeHead(502, { 'content-type': 'application/json' })
          .end('{"message":"Internal Server Error"}');
        return;
      }
      const result = JSON.parse(outcome.body.toString('utf8')) as ProxyResult;
      const headers: Record<string, string | string[]> = { ...result.headers };
      if (result.cookies?.length) headers['set-cookie'] = result.cookies;
      const body = result.body ?? '';
      response.writeHead(result.statusCode ?? 200, headers);
      response.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
    } catch {
      if (!response.headersSent) response.writeHead(502, { 'content-type': 'application/json' });
      response.end('{"message":"Internal Server Error"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
