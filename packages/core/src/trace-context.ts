/**
 * The invocation's trace context in W3C form, for producers: what a function writes into the
 * messages it sends (SQS/SNS message attributes, an EventBridge `detail`, CloudEvent extensions)
 * so the function that receives them continues the same trace. The adapters' helpers
 * (`@sidecarless/lambda`'s `traceAttributes`, `@sidecarless/knative`'s `withTraceContext`) put it
 * in each platform's shape.
 */
import type { MeshContext, TraceCarrier } from './types.js';

const validTraceId = /^(?!0{32})[0-9a-f]{32}$/;
const validSpanId = /^(?!0{16})[0-9a-f]{16}$/;

/**
 * `{ traceparent, tracestate? }` of the invocation's span; undefined when tracing is off or the
 * span has no valid context (nothing to continue).
 *
 * @example
 * ```ts
 * import { createMesh, traceContextOf } from '@sidecarless/core';
 * import { invoke } from '@sidecarless/core/local';
 *
 * const mesh = createMesh({ service: 'orders' });
 * await invoke(
 *   mesh,
 *   async (_request, ctx) => {
 *     const carrier = traceContextOf(ctx); // { traceparent: '00-…-…-01' } when tracing is on
 *     return Response.json({ traced: carrier !== undefined });
 *   },
 *   'http://localhost/orders',
 * );
 * ```
 */
export function traceContextOf(ctx: Pick<MeshContext, 'telemetry'>): TraceCarrier | undefined {
  const context = ctx.telemetry?.span?.spanContext();
  if (context === undefined || !validTraceId.test(context.traceId) || !validSpanId.test(context.spanId)) {
    return undefined;
  }
  const flags = (context.traceFlags & 0xff).toString(16).padStart(2, '0');
  const traceparent = `00-${context.traceId}-${context.spanId}-${flags}`;
  const tracestate = context.traceState?.serialize();
  return tracestate ? { traceparent, tracestate } : { traceparent };
}
