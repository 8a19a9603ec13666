// The orders function on AWS Lambda (_HANDLER=orders-lambda.handler). The runtime interface
// client loads this module with import(); the handler itself is TypeScript, written once.
import { lambda } from '@sidecarless/lambda';
import { createOrdersMesh, orders } from '../functions/orders.ts';

/**
 * Holds a ref'd timer while an invocation runs. Between invocations the runtime client keeps
 * the process alive, but during one the outbound client's retry backoff waits on an unref'd
 * timer: with nothing else pending, Node would exit mid-invocation (exit code 0). Container
 * platforms do not need this — their listening socket keeps the event loop alive.
 */
function holdEventLoop(handler) {
  return async function heldInvocation(request, ctx) {
    const hold = setInterval(() => {}, 60_000);
    try {
      return await handler(request, ctx);
    } finally {
      clearInterval(hold);
    }
  };
}

export const handler = lambda(createOrdersMesh(), holdEventLoop(orders));
