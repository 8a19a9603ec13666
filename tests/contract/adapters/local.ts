import { invoke } from '@sidecarless/core/local';
import { contractHandler, createContractMesh } from '../function.ts';
import type { AdapterUnderTest } from '../harness.ts';

/** The local adapter: in-process, no platform. */
export const localAdapter: AdapterUnderTest = {
  name: 'local',
  platform: 'local',
  async start() {
    const mesh = createContractMesh();
    return {
      send: (request) => invoke(mesh, contractHandler, request),
      stop: () => mesh.close(),
    };
  },
};
