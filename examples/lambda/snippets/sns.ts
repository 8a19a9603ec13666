import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'notifier' });

export const handler = lambda.sns(mesh, async (notification, ctx) => {
  ctx.log.info({ topic: notification.TopicArn, subject: notification.Subject }, notification.Message);
});
