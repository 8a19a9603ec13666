/**
 * The contract function: one mesh factory and one handler, run unchanged by every adapter
 * under test (in-process, or in a child process for adapters that need one). Plain
 * type-strippable TypeScript so a child `node` can load it without a build step.
 */

import { auth } from '@sidecarless/auth';
import {
  createMesh,
  type HttpHandler,
  type LogLevel,
  type Mesh,
  type MeshOptions,
  SidecarlessError,
} from '@sidecarless/core';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { telemetry } from '@sidecarless/telemetry';

/**
 * Extra mesh options for a suite run, as JSON in `CONTRACT_MESH_OPTIONS` (an environment
 * variable, so child-process adapters inherit it too). Suites that need a configured mesh (the
 * auth suite) set it around `adapter.start()`.
 */
function extraOptions(): Partial<MeshOptions> {
  const json = process.env.CONTRACT_MESH_OPTIONS;
  return json ? (JSON.parse(json) as Partial<MeshOptions>) : {};
}

export function createContractMesh(): Mesh {
  return createMesh(
    {
      service: 'contract',
      version: '1.0.0',
      logging: { level: (process.env.CONTRACT_LOG_LEVEL ?? 'silent') as LogLevel },
      ...extraOptions(),
    },
    [telemetry, auth, outbound, http],
  );
}

/** Bytes 0..255: proves binary bodies survive each platform's encoding both ways. */
export const binaryPayload = Uint8Array.from({ length: 256 }, (_, i) => i);

export const contractHandler: HttpHandler = async (request, ctx) => {
  const url = new URL(request.url);
  switch (url.pathname) {
    case '/echo': {
      const body = request.method === 'GET' || request.method === 'HEAD' ? '' : await request.text();
      return Response.json(
        {
          method: request.method,
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          header: request.headers.get('x-contract'),
          contentType: request.headers.get('content-type'),
          body,
          platform: ctx.platform,
          hasInvocationId: typeof ctx.invocationId === 'string' && ctx.invocationId.length > 0,
          coldStartIsBoolean: typeof ctx.coldStart === 'boolean',
          deadlineInFuture: ctx.deadline > Date.now(),
          signalAborted: ctx.signal.aborted,
        },
        { headers: { 'x-handled-by': 'contract' } },
      );
    }
    case '/binary-echo': {
      const bytes = new Uint8Array(await request.arrayBuffer());
      return new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } });
    }
    case '/facts':
      return Response.json({
        invocationId: ctx.invocationId,
        trigger: ctx.trigger,
        service: ctx.service,
        attributesIsObject: typeof ctx.attributes === 'object' && ctx.attributes !== null,
      });
    case '/binary':
      return new Response(binaryPayload, { headers: { 'content-type': 'application/octet-stream' } });
    case '/cookies': {
      const headers = new Headers();
      headers.append('set-cookie', 'a=1; Path=/; HttpOnly');
      headers.append('set-cookie', 'b=2; Path=/; Secure');
      return new Response('cookies set', { headers });
    }
    case '/url':
      // The URL exactly as the handler got it: the Host and request-target suites read it.
      return Response.json({ url: request.url });
    case '/whoami':
      return Response.json({
        principal: ctx.auth?.principal ?? null,
        groups: ctx.auth?.claims.groups ?? null,
        peer: ctx.peer?.principal ?? null,
        authorization: request.headers.get('authorization'),
      });
    case '/no-content':
      return new Response(null, { status: 204 });
    case '/error/unexpected':
      throw new Error('connection string postgres://admin:hunter2@db leaked?');
    case '/error/forbidden':
      throw new SidecarlessError('SCL_ERR_CONTRACT_FORBIDDEN', 'you may not', {
        status: 403,
        headers: { 'x-reason': 'contract' },
      });
    case '/error/not-a-response':
      return { ok: true } as unknown as Response;
    default:
      return Response.json({ error: 'not found' }, { status: 404 });
  }
};
