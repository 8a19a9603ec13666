import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'feed' });

// Function URL with InvokeMode RESPONSE_STREAM.
export const handler = lambda.stream(mesh, async (_request, ctx) => {
  const encoder = new TextEncoder();
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent === 5 || ctx.signal.aborted) return controller.close();
      await new Promise((resolve) => setTimeout(resolve, 100));
      controller.enqueue(encoder.encode(`event ${sent++}\n`));
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
});
