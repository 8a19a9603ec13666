import { knative } from '@sidecarless/knative';
import { forward } from '@sidecarless/testing';
import { contractHandler, createContractMesh } from '../function.ts';
import type { AdapterUnderTest } from '../harness.ts';

/** Knative standalone: `knative(mesh, handler)` serving on a real 127.0.0.1 port. */
export const knativeAdapter: AdapterUnderTest = {
  name: 'knative (standalone server)',
  platform: 'knative',
  async start() {
    const mesh = createContractMesh();
    const server = knative(mesh, contractHandler, { port: 0, shutdownSignals: false });
    const { url } = await server.listen();
    return {
      send: (request) => forward(url, request),
      socket: { port: Number(new URL(url).port) },
      stop: () => server.close(),
    };
  },
};
