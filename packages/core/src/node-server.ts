/**
 * `@sidecarless/core/node-server`: the Node HTTP server the container adapters share —
 * `IncomingMessage` → `Request`, `Response` → `ServerResponse`, explicit body limits (413),
 * header/request timeouts, readiness/liveness probes, and drain on SIGTERM.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { createNodeServer, serveHttp } from '@sidecarless/core/node-server';
 *
 * const mesh = createMesh({ service: 'hello' });
 * const server = createNodeServer(mesh, serveHttp(mesh, () => new Response('hi'), () => ({ platform: 'custom' })));
 * await server.listen(); // 127.0.0.1:8080, drains and exits 0 on SIGTERM
 * ```
 *
 * @packageDocumentation
 */

export { type ConnectionFacts, connectionFacts } from './node-server/connection.js';
export {
  checkShutdownOptions,
  type NodeServerOptions,
  type NormalizedServerOptions,
  type NormalizedShutdownOptions,
  normalizeServerOptions,
  type ProbePaths,
  type ServerDefaults,
  type ShutdownOptions,
} from './node-server/options.js';
export { bodyTooLarge, toRequest } from './node-server/request.js';
export { writeResponse } from './node-server/response.js';
export {
  createNodeServer,
  type FactsOf,
  type NodeRaw,
  type NodeServer,
  type Serve,
  type ServerState,
  serveHttp,
} from './node-server/server.js';
export { cutRemaining, GracePeriod, InFlight, onShutdownSignals } from './node-server/shutdown.js';
