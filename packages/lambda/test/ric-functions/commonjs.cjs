// A CommonJS handler module: run with --no-experimental-require-module, as on nodejs22.x.
const { createMesh } = require('@sidecarless/core');
const { lambda } = require('@sidecarless/lambda');

const mesh = createMesh({ service: 'ric-cjs', logging: { level: 'info' } });

exports.handler = lambda(mesh, async (request, ctx) => {
  return Response.json({
    method: request.method,
    url: request.url,
    body: await request.text(),
    invocationId: ctx.invocationId,
    coldStart: ctx.coldStart,
    module: 'cjs',
  });
});

exports.queue = lambda.sqs(mesh, async (record) => {
  if (record.body.includes('poison')) throw new Error('poison message');
});
