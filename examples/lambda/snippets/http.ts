import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'orders' });

// API Gateway REST and HTTP APIs, Function URLs, ALB and VPC Lattice: the same handler.
export const handler = lambda(mesh, async (request, ctx) => {
  const url = new URL(request.url);
  if (request.method === 'POST') {
    const order = (await request.json()) as { sku: string };
    return Response.json({ id: ctx.invocationId, sku: order.sku }, { status: 201 });
  }
  const headers = new Headers({ 'content-type': 'text/plain' });
  headers.append('set-cookie', 'seen=1; Path=/; HttpOnly');
  headers.append('set-cookie', 'theme=dark; Path=/');
  return new Response(`hello from ${url.pathname}`, { headers });
});
