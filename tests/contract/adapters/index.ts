import type { AdapterUnderTest } from '../harness.ts';
import { knativeAdapter } from './knative.ts';
import { knativeFuncAdapter } from './knative-func.ts';
import { kubelessAdapter } from './kubeless.ts';
import { lambdaAdapter } from './lambda.ts';
import { localAdapter } from './local.ts';
import { openfaasAdapter } from './openfaas.ts';

/** Every adapter the contract suite proves. Each adapter package adds its entry here. */
export const adapters: readonly AdapterUnderTest[] = [
  localAdapter,
  lambdaAdapter,
  openfaasAdapter,
  knativeAdapter,
  knativeFuncAdapter,
  kubelessAdapter,
];
