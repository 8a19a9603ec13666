// An OpenFaaS function as the adapter's README writes it: it listens by itself on http_port.
import { createMesh } from '@sidecarless/core';
import { openfaas } from '@sidecarless/openfaas';

const mesh = createMesh({ service: 'payments' });

await openfaas(mesh, async (request, ctx) => {
  const charge = await request.json();
  ctx.log.info({ amount: charge.amountCents, path: new URL(request.url).pathname }, 'charge made');
  return Response.json({ charged: charge.amountCents, id: ctx.invocationId, msLeft: ctx.remainingTime() });
}).listen();
