/**
 * `notifications`: consumes `com.example.order.created` CloudEvents and "sends" the customer a
 * message (a log line here). Written once; deployed on Knative Eventing
 * (platforms/notifications-knative.ts).
 */
import { createMesh } from '@sidecarless/core';
import type { CloudEventHandler } from '@sidecarless/knative';
import { telemetry } from '@sidecarless/telemetry';
import { telemetryFromEnv } from './environment.ts';

/** Creates the notifications mesh from the environment. */
export function createNotificationsMesh(env: NodeJS.ProcessEnv = process.env) {
  return createMesh({ service: 'notifications', telemetry: telemetryFromEnv(env) }, [telemetry]);
}

/** The notifications handler: acknowledges by returning nothing (202). */
export const notifications: CloudEventHandler = (event, ctx) => {
  const data = event.data as { orderId?: string } | undefined;
  ctx.log.info({ type: event.type, orderId: data?.orderId }, 'customer notified');
};
