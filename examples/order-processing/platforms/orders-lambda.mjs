// The orders function on AWS Lambda (_HANDLER=orders-lambda.handler). The runtime interface
// client loads this module with import(); the handler itself is TypeScript, written once.
import { lambda } from '@sidecarless/lambda';
import { createOrdersMesh, orders } from '../functions/orders.ts';

export const handler = lambda(createOrdersMesh(), orders);
