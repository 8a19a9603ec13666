/**
 * @sidecarless/knative — run a Sidecarless handler on Knative: an HTTP server on `PORT` with
 * probes and drain (`knative`), a CloudEvents sink (`knative.cloudevents`), or the Knative
 * Functions runtime's module shape (`knative.func`).
 *
 * @packageDocumentation
 */
import type { HttpHandler, Mesh } from '@sidecarless/core';
import type { NodeServer } from '@sidecarless/core/node-server';
import { type CloudEventHandler, knativeCloudEvents } from './cloudevents.js';
import { type FuncModule, type FuncRaw, type KnativeFuncOptions, knativeFunc } from './func.js';
import { type KnativeOptions, type KnativeRaw, knativeServer } from './server.js';

export type { NodeServer } from '@sidecarless/core/node-server';
export type { CloudEventHandler, CloudEventReply } from './cloudevents.js';
export { knativeTelemetry, withTraceContext } from './facts.js';
export type { FuncContext, FuncModule, FuncRaw, FuncResult, KnativeFuncOptions, ProbeReply } from './func.js';
export { defaultProbes, type KnativeOptions, type KnativeRaw, knativeServer } from './server.js';
export { whyInvalid as whyCloudEventInvalid } from './strict-event.js';

/** {@link knative}'s shape: the HTTP server factory with the CloudEvents and `func` shapes attached. */
export interface KnativeAdapter {
  (mesh: Mesh, handler: HttpHandler<KnativeRaw>, options?: KnativeOptions): NodeServer;
  /** A CloudEvents sink (binary, structured and batch modes). */
  cloudevents(mesh: Mesh, handler: CloudEventHandler, options?: KnativeOptions): NodeServer;
  /** The module shape the Knative Functions runtime (faas-js-runtime) loads. */
  func(mesh: Mesh, handler: HttpHandler<FuncRaw>, options?: KnativeFuncOptions): FuncModule;
}

/**
 * Serves `handler` on Knative: `PORT` (default 8080), readiness `/health/readiness` and
 * liveness `/health/liveness` (503 until the mesh is ready and again while draining),
 * `K_SERVICE`/`K_REVISION`/`K_CONFIGURATION` on `ctx.attributes`, drain and exit 0 on SIGTERM.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { knative } from '@sidecarless/knative';
 *
 * const mesh = createMesh({ service: 'orders' });
 * await knative(mesh, async (request, ctx) => Response.json({ revision: ctx.attributes['faas.version'] })).listen();
 * ```
 */
export const knative: KnativeAdapter = Object.assign(
  function knative(mesh: Mesh, handler: HttpHandler<KnativeRaw>, options?: KnativeOptions): NodeServer {
    return knativeServer(mesh, handler, options);
  },
  { cloudevents: knativeCloudEvents, func: knativeFunc },
);
