// An ESM handler module, loaded by the runtime interface client with import().
import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'ric-esm', logging: { level: 'info' } });

export const handler = lambda(mesh, async (request, ctx) => {
  const url = new URL(request.url);
  if (url.pathname === '/boom') throw new Error('secret hunter2 exploded');
  if (url.pathname === '/slow') {
    // The kernel's deadline timer is unref'd; a real handler waits on I/O that keeps the event
    // loop alive. This one waits on nothing else, so it holds a timer of its own.
    const keepAlive = setTimeout(() => {}, 60_000);
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
    clearTimeout(keepAlive);
    return Response.json({ aborted: ctx.signal.aborted, left: ctx.remainingTime() });
  }
  ctx.log.info({ path: url.pathname }, 'handled');
  const headers = new Headers({ 'content-type': 'application/json' });
  headers.append('set-cookie', 'a=1; Path=/');
  headers.append('set-cookie', 'b=2; Secure');
  return new Response(
    JSON.stringify({
      method: request.method,
      url: request.url,
      body: await request.text(),
      invocationId: ctx.invocationId,
      coldStart: ctx.coldStart,
      deadline: ctx.deadline,
      trace: ctx.raw.xrayTraceId,
      arn: ctx.raw.context.invokedFunctionArn,
      module: 'esm',
    }),
    { headers },
  );
});

export const queue = lambda.sqs(mesh, async (record) => {
  if (record.body.includes('poison')) throw new Error('poison message');
});

export const event = lambda.event(mesh, async (incoming) => {
  if (incoming.fail) throw new TypeError('event handler failed');
  return { ok: true };
});

export const stream = lambda.stream(mesh, async (request) => {
  const fail = new URL(request.url).searchParams.has('fail');
  const count = Number(new URL(request.url).searchParams.get('chunks') ?? '3');
  const size = Number(new URL(request.url).searchParams.get('size') ?? '16');
  let sent = 0;
  const body = new ReadableStream({
    async pull(controller) {
      if (sent === count) {
        controller.close();
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (fail && sent === 1) {
        controller.error(new Error('upstream went away'));
        return;
      }
      controller.enqueue(new TextEncoder().encode(String(sent++ % 10).repeat(size)));
    },
  });
  const headers = new Headers({ 'content-type': 'text/plain', 'x-stream': 'yes' });
  headers.append('set-cookie', 's=1');
  return new Response(body, { status: 201, headers });
});
