import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'reports' });

// Rules and Scheduler targets; a `detail` sent as a JSON string arrives parsed.
export const handler = lambda.eventbridge<{ reportId?: string }>(mesh, async (event, ctx) => {
  ctx.log.info(
    { type: event['detail-type'], report: event.detail.reportId, trigger: ctx.trigger },
    'received',
  );
});
