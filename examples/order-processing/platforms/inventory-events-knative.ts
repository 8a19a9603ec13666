// inventory's stock events alone, as a Knative Eventing sink on PORT: the second Knative Service
// of deploy/knative.yaml (a Knative container has one port). Locally the demo serves both
// handlers from platforms/inventory-knative.ts instead, so they share the in-memory stock table.
import { knative } from '@sidecarless/knative';
import { createInventoryMesh, createStockEventsHandler, createStockTable } from '../functions/inventory.ts';
import { mutualTlsServerOptions } from './server-tls.ts';

await knative
  .cloudevents(
    createInventoryMesh(process.env, { sink: true }),
    createStockEventsHandler(createStockTable()),
    mutualTlsServerOptions(),
  )
  .listen();
