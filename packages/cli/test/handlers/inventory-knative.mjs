// A Knative CloudEvents sink, exported without listening: `sidecarless invoke` binds it on PORT.
import { createMesh } from '@sidecarless/core';
import { knative } from '@sidecarless/knative';

const mesh = createMesh({ service: 'inventory' });

export const handler = knative.cloudevents(mesh, (event, ctx) => {
  ctx.log.info({ type: event.type, order: event.data?.orderId }, 'stock reserved');
  return {
    specversion: '1.0',
    id: `${event.id}-reserved`,
    type: 'com.example.stock.reserved',
    source: '/inventory',
    data: { orderId: event.data?.orderId, revision: process.env.K_REVISION },
  };
});
