/** `knative(mesh, handler)`: an HTTP function for Knative Serving. */
import type { HttpHandler, Mesh, TelemetryFacts } from '@sidecarless/core';
import {
  createNodeServer,
  type NodeRaw,
  type NodeServer,
  type NodeServerOptions,
  serveHttp,
} from '@sidecarless/core/node-server';
import { knativeAttributes, knativePort, knativeTelemetry } from './facts.js';

/** Options of {@link knativeServer} and `knative.cloudevents`. */
export interface KnativeOptions extends NodeServerOptions {
  /** The environment to read `PORT` and `K_SERVICE`/`K_REVISION`/`K_CONFIGURATION` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** What `ctx.raw` holds under Knative: the Node request and response. */
export type KnativeRaw = NodeRaw;

/**
 * Knative's probe paths, as the Knative Functions runtime names them.
 *
 * @example
 * ```ts
 * import { defaultProbes } from '@sidecarless/knative';
 *
 * // readinessProbe.httpGet.path in service.yaml
 * console.log(defaultProbes.readiness); // "/health/readiness"
 * ```
 */
export const defaultProbes = { readiness: '/health/readiness', liveness: '/health/liveness' } as const;

/** Splits adapter options into server options, port and platform attributes. @internal */
export function knativeSettings(options: KnativeOptions): {
  server: NodeServerOptions;
  port: number;
  attributes: Readonly<Record<string, string>>;
  telemetry: TelemetryFacts;
} {
  const { env = process.env, ...server } = options;
  return {
    server,
    port: knativePort(env),
    attributes: knativeAttributes(env),
    telemetry: knativeTelemetry(env),
  };
}

/**
 * Serves `handler` on `PORT` (default 8080) with readiness and liveness probes; drains on SIGTERM.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { knativeServer } from '@sidecarless/knative';
 *
 * const mesh = createMesh({ service: 'orders' });
 * await knativeServer(mesh, (request) => Response.json({ path: new URL(request.url).pathname })).listen();
 * ```
 */
export function knativeServer(
  mesh: Mesh,
  handler: HttpHandler<KnativeRaw>,
  options: KnativeOptions = {},
): NodeServer {
  const settings = knativeSettings(options);
  const serve = serveHttp(mesh, handler, () => ({
    platform: 'knative',
    trigger: 'http',
    attributes: settings.attributes,
    telemetry: settings.telemetry,
  }));
  return createNodeServer(mesh, serve, settings.server, {
    port: settings.port,
    probes: defaultProbes,
  });
}
