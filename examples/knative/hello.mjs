// hello-serverless: an HTTP function on Knative Serving.
import { createMesh } from '@sidecarless/core';
import { knative } from '@sidecarless/knative';

const mesh = createMesh({ service: 'hello-serverless', logging: { level: process.env.LOG_LEVEL ?? 'info' } });

await knative(mesh, (request, ctx) =>
  Response.json({
    hello: process.env.TARGET ?? 'World',
    path: new URL(request.url).pathname,
    revision: ctx.attributes['faas.version'] ?? null,
  }),
).listen();
