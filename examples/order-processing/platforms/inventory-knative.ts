// The inventory function on Knative, terminating the mesh's mTLS itself: stock queries on PORT
// (Knative Serving) and, when EVENTS_PORT is set, stock events on a CloudEvents sink (Knative
// Eventing) in the same process, so both handlers share the stock table. In a cluster the two
// are separate Services (deploy/knative.yaml): Knative gives a container one port.
import { knative } from '@sidecarless/knative';
import {
  createInventoryHandler,
  createInventoryMesh,
  createStockEventsHandler,
  createStockTable,
} from '../functions/inventory.ts';
import { mutualTlsServerOptions } from './server-tls.ts';

const mesh = createInventoryMesh();
const stock = createStockTable();
const tls = mutualTlsServerOptions();
const eventsPort = process.env.EVENTS_PORT;
if (eventsPort === undefined) {
  await knative(mesh, createInventoryHandler(stock), tls).listen();
} else {
  // One signal handler for both listeners: each server exiting on its own could end the
  // process while the other is still draining.
  const own = { shutdownSignals: false, exitOnShutdown: false } as const;
  const servers = [
    knative(mesh, createInventoryHandler(stock), { ...tls, ...own }),
    knative.cloudevents(mesh, createStockEventsHandler(stock), { ...tls, ...own, port: Number(eventsPort) }),
  ];
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      mesh.log.info({ signal }, 'shutdown signal: draining both listeners');
      void Promise.all(servers.map((server) => server.close())).finally(() => process.exit(0));
    });
  }
  await Promise.all(servers.map((server) => server.listen()));
}
