// The inventory function on Knative Serving, terminating the mesh's mTLS itself.
import { knative } from '@sidecarless/knative';
import { createInventoryMesh, inventory } from '../functions/inventory.ts';
import { mutualTlsServerOptions } from './server-tls.ts';

await knative(createInventoryMesh(), inventory, mutualTlsServerOptions()).listen();
