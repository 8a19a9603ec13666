import { kubeless } from '@sidecarless/kubeless';
import { forward, startKubelessRuntime } from '@sidecarless/testing';
import { contractHandler, createContractMesh } from '../function.ts';
import type { AdapterUnderTest } from '../harness.ts';

/**
 * Kubeless: the archived runtime image cannot run here, so the Kubeless Node runtime's HTTP
 * behaviour is reproduced by the testing package's stand-in, with a real server on 127.0.0.1.
 */
export const kubelessAdapter: AdapterUnderTest = {
  name: 'kubeless (runtime stand-in)',
  platform: 'kubeless',
  async start() {
    const mesh = createContractMesh();
    const runtime = await startKubelessRuntime(kubeless(mesh, contractHandler), { timeoutSeconds: 30 });
    return {
      send: (request) => forward(runtime.url, request),
      socket: { port: Number(new URL(runtime.url).port) },
      async stop() {
        await runtime.close();
        await mesh.close();
      },
    };
  },
};
