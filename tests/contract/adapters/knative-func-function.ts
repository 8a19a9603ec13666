/**
 * The contract function as a Knative Functions project: `knative.func(...)` loaded by the real
 * faas-js-runtime, in its own process (the runtime installs process-wide exit handlers).
 */
import { knative } from '@sidecarless/knative';
import runtime from 'faas-js-runtime';
import { contractHandler, createContractMesh } from '../function.ts';

const mesh = createContractMesh();
const fn = knative.func(mesh, contractHandler, { originalPathHeader: 'x-original-path' });
await runtime.start(fn, {
  port: Number(process.env.PORT), // The runtime's typings declare LogLevel as an enum it never exports at runtime; it takes the
  // level name.
  logLevel: 'silent' as never,
  includeRaw: true,
});
process.stdout.write('listening\n');
