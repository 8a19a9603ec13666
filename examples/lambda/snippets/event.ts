import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'pricing' });

// Direct invokes, Step Functions, WebSocket APIs: the event as it came.
export const handler = lambda.event<{ sku: string }, { cents: number }>(
  mesh,
  async (event) => ({ cents: event.sku.length * 100 }),
  { trigger: 'other', isWarmup: (event) => (event as { warm?: boolean }).warm === true },
);
