// order-events: a CloudEvents sink behind a Knative Trigger; replies with an acknowledgement event.
import { createMesh } from '@sidecarless/core';
import { knative } from '@sidecarless/knative';

const mesh = createMesh({ service: 'order-events', logging: { level: process.env.LOG_LEVEL ?? 'info' } });

await knative
  .cloudevents(mesh, (event, ctx) => {
    ctx.log.info({ type: event.type, id: event.id }, 'order event');
    return {
      specversion: '1.0',
      id: `${event.id}-ack`,
      type: 'com.example.order.acknowledged',
      source: '/order-events',
      data: { order: event.data },
    };
  })
  .listen();
