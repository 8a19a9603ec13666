// A traced handler: spans go to the OTLP receiver the test names in TEST_OTLP_URL.
import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';
import { telemetry } from '@sidecarless/telemetry';

const mesh = createMesh(
  {
    service: 'ric-traced',
    logging: { level: 'warn' },
    telemetry: { tracing: { exporter: 'otlp', endpoint: process.env.TEST_OTLP_URL } },
  },
  [telemetry],
);

export const handler = lambda(mesh, async (_request, ctx) => Response.json({ id: ctx.invocationId }));
