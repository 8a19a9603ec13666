/**
 * `inventory`: answers stock levels. It serves mTLS only (the Knative entry point requires a
 * client certificate from the mesh CA), and reports which workload called it.
 * Written once; deployed on Knative (platforms/inventory-knative.ts).
 */
import type { TLSSocket } from 'node:tls';
import { createMesh, type HttpHandler } from '@sidecarless/core';
import type { KnativeRaw } from '@sidecarless/knative';
import { telemetryFromEnv } from './environment.ts';

const stock: Readonly<Record<string, number>> = { 'book-42': 12, 'mug-7': 3, 'poster-1': 0 };

/** Creates the inventory mesh from the environment. */
export function createInventoryMesh(env: NodeJS.ProcessEnv = process.env) {
  return createMesh({ service: 'inventory', telemetry: telemetryFromEnv(env) });
}

/** The SPIFFE ID in the verified client certificate of this request's TLS connection, if any. */
function callerIdentity(raw: KnativeRaw): string | undefined {
  const socket = raw.request.socket as Partial<TLSSocket>;
  if (typeof socket.getPeerCertificate !== 'function' || !socket.authorized) return undefined;
  const names = socket.getPeerCertificate().subjectaltname ?? '';
  return /URI:(spiffe:\/\/[^,\s]+)/.exec(names)?.[1];
}

/** The inventory handler. */
export const inventory: HttpHandler<KnativeRaw> = async (request, ctx) => {
  const match = /^\/stock\/([^/]+)$/.exec(new URL(request.url).pathname);
  if (request.method !== 'GET' || !match) return Response.json({ error: 'not found' }, { status: 404 });
  const sku = decodeURIComponent(match[1]!);
  const caller = callerIdentity(ctx.raw);
  ctx.log.info({ sku, caller }, 'stock checked');
  return Response.json({ sku, available: stock[sku] ?? 0, servedBy: 'inventory', caller });
};
