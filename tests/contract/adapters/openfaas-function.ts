/**
 * The contract function as an OpenFaaS function process: what the watchdog stand-in starts.
 * Runs the built package, as a deployed function would.
 */
import { openfaas } from '@sidecarless/openfaas';
import { contractHandler, createContractMesh } from '../function.ts';

const mesh = createContractMesh();
await openfaas(mesh, contractHandler).listen();
