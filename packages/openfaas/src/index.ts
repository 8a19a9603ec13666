/**
 * @sidecarless/openfaas — run a Sidecarless handler as an OpenFaaS function (of-watchdog HTTP
 * mode), or keep the stock Node template's `(event, context)` shape with `openfaas.classic`.
 *
 * @packageDocumentation
 */
import type { HttpHandler, Mesh } from '@sidecarless/core';
import type { NodeServer } from '@sidecarless/core/node-server';
import { type ClassicHandler, openfaasClassic } from './classic.js';
import { type OpenFaasOptions, type OpenFaasRaw, openfaasServer } from './server.js';

export type { NodeServer } from '@sidecarless/core/node-server';
export type { ClassicContext, ClassicEvent, ClassicHandler } from './classic.js';
export { parseGoDuration } from './go-duration.js';
export { defaultSecretsDirectory, type OpenFaasSecrets, secrets } from './secrets.js';
export type { OpenFaasOptions, OpenFaasRaw } from './server.js';

/** {@link openfaas}'s shape: a server factory with the classic template adapter attached. */
export interface OpenFaasAdapter {
  (mesh: Mesh, handler: HttpHandler<OpenFaasRaw>, options?: OpenFaasOptions): NodeServer;
  /** Serves a stock Node template `(event, context)` handler. */
  classic(mesh: Mesh, fn: ClassicHandler, options?: OpenFaasOptions): NodeServer;
}

/**
 * Serves `handler` as the upstream of OpenFaaS's of-watchdog (HTTP mode): `127.0.0.1` on
 * `http_port` (default 3000), every method and path to the handler, `X-Call-Id` as the
 * invocation id, `exec_timeout`/`X-Timeout` as the deadline, drain and exit 0 on SIGTERM.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { openfaas } from '@sidecarless/openfaas';
 *
 * const mesh = createMesh({ service: 'orders' });
 * const server = openfaas(mesh, async (request, ctx) => {
 *   ctx.log.info({ path: new URL(request.url).pathname }, 'order received');
 *   return Response.json({ id: ctx.invocationId, left: ctx.remainingTime() });
 * });
 * await server.listen();
 * ```
 */
export const openfaas: OpenFaasAdapter = Object.assign(
  function openfaas(mesh: Mesh, handler: HttpHandler<OpenFaasRaw>, options?: OpenFaasOptions): NodeServer {
    return openfaasServer(mesh, handler, options);
  },
  { classic: openfaasClassic },
);
