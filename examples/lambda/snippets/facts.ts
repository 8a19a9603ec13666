import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'facts' });

export const handler = lambda(
  mesh,
  async (_request, ctx) =>
    Response.json({
      requestId: ctx.invocationId, // the AWS request id
      coldStart: ctx.coldStart, // true only for the first invocation of this environment
      deadline: ctx.deadline, // epoch ms when Lambda stops the invocation
      left: ctx.remainingTime(),
      trace: ctx.raw.xrayTraceId, // Root=1-…;Parent=…;Sampled=…
      functionArn: ctx.raw.context.invokedFunctionArn,
    }),
  { safetyMargin: '250ms' }, // ctx.signal fires 250 ms before the deadline
);
