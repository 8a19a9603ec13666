// The notifications function on Knative Eventing (a CloudEvents sink), terminating mTLS itself.
import { knative } from '@sidecarless/knative';
import { createNotificationsMesh, notifications } from '../functions/notifications.ts';
import { mutualTlsServerOptions } from './server-tls.ts';

await knative.cloudevents(createNotificationsMesh(), notifications, mutualTlsServerOptions()).listen();
