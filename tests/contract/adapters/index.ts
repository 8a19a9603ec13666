import type { AdapterUnderTest } from '../harness.ts';
import { lambdaAdapter } from './lambda.ts';
import { localAdapter } from './local.ts';

/** Every adapter the contract suite proves. Each adapter package adds its entry here. */
export const adapters: readonly AdapterUnderTest[] = [localAdapter, lambdaAdapter];
