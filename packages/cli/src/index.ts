/**
 * `@sidecarless/cli`: the `sidecarless` command (`check`, `explain`, `invoke`, `cost`, `events`
 * — see docs/cli.md), and the events and Lambda context it invokes handlers with, for your own
 * tests.
 *
 * @example
 * ```ts
 * import { lambdaContext, readEvent } from '@sidecarless/cli';
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * const handler = lambda(createMesh({ service: 'orders' }), async (request) =>
 *   Response.json({ method: request.method, path: new URL(request.url).pathname }),
 * );
 * const result = await handler(readEvent('api-gw-v2') as never, lambdaContext({ functionName: 'orders' }));
 * console.log(result.statusCode, result.body); // 200 {"method":"POST","path":"/orders"}
 * ```
 *
 * @packageDocumentation
 */
export { type EventName, eventNames, isEventName, readEvent } from './events.js';
export { type FunctionFacts, type InvokeLambdaContext, lambdaContext } from './lambda-context.js';
