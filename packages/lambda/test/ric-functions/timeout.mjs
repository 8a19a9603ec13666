// A traced handler waiting on a call that outlives the invocation, passing ctx.signal as handlers
// should (fetch(url, { signal: ctx.signal })): the signal aborts a safety margin before the
// deadline, and the mesh must get the invocation's span to the OTLP receiver (TEST_OTLP_URL)
// before the platform kills the environment.
import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';
import { telemetry } from '@sidecarless/telemetry';

const mesh = createMesh(
  {
    service: 'ric-timeout',
    logging: { level: 'warn' },
    telemetry: { tracing: { exporter: 'otlp', endpoint: process.env.TEST_OTLP_URL } },
  },
  [telemetry],
);

export const handler = lambda(
  mesh,
  (_request, ctx) =>
    new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
    }),
);
