// The image-processor function: an ordinary Sidecarless handler served for of-watchdog.
import { createMesh } from '@sidecarless/core';
import { openfaas } from '@sidecarless/openfaas';

const mesh = createMesh({ service: 'image-processor', logging: { level: process.env.LOG_LEVEL ?? 'info' } });

await openfaas(mesh, async (request, ctx) => {
  const url = new URL(request.url);
  if (request.method !== 'POST') return Response.json({ error: 'POST an image' }, { status: 405 });
  const bytes = new Uint8Array(await request.arrayBuffer());
  ctx.log.info({ bytes: bytes.length, path: url.pathname }, 'image received');
  return Response.json({ id: ctx.invocationId, bytes: bytes.length, msLeft: ctx.remainingTime() });
}).listen();
