/**
 * `lambda.stream` in-process, with a real Node Writable as the response stream. The runtime's
 * `awslambda` global is replaced by a minimal stand-in (prelude as the first write), because
 * only the runtime interface client provides it; ric.test.ts runs the same wrapper under it.
 */
import { Writable } from 'node:stream';
import { createMesh } from '@sidecarless/core';
import { lambdaContext, lambdaEvent } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import { type AwsLambdaStreamingGlobal, lambda } from '../src/index.js';

const runtime: AwsLambdaStreamingGlobal = {
  streamifyResponse: (handler) => handler,
  HttpResponseStream: {
    from(stream, prelude) {
      stream.write(`${JSON.stringify(prelude)}\n`);
      return stream;
    },
  },
};

/** A slow consumer: takes `delayMs` per chunk and buffers at most `highWaterMark` bytes. */
function slowSink(delayMs: number, highWaterMark: number) {
  const received: Buffer[] = [];
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _encoding, callback) {
      received.push(chunk);
      setTimeout(callback, delayMs);
    },
  });
  return { sink, received };
}

describe('lambda.stream', () => {
  it('waits for the response stream to drain before pulling more of the body', async () => {
    const mesh = createMesh({ service: 'stream', logging: { level: 'silent' } });
    let pulled = 0;
    let maxAhead = 0;
    const { sink, received } = slowSink(5, 64);
    const chunk = new Uint8Array(64).fill(120);
    const handler = lambda.stream(
      mesh,
      async () =>
        new Response(
          new ReadableStream<Uint8Array>(
            {
              pull(controller) {
                // How far the producer has got ahead of what the consumer has taken (minus prelude).
                maxAhead = Math.max(maxAhead, pulled - (received.length - 1));
                if (pulled === 40) return controller.close();
                pulled++;
                controller.enqueue(chunk);
              },
            },
            { highWaterMark: 0 },
          ),
        ),
      { awslambda: runtime },
    );
    await handler(lambdaEvent('function-url.json'), sink, lambdaContext());
    expect(pulled).toBe(40);
    expect(Buffer.concat(received.slice(1)).length).toBe(40 * 64);
    // Without backpressure the whole body would be pulled while the first chunks are written.
    expect(maxAhead).toBeLessThanOrEqual(3);
    expect(sink.writableFinished).toBe(true);
  });

  it('streams a handler error as a 500 prelude with a problem body', async () => {
    const mesh = createMesh({ service: 'stream', logging: { level: 'silent' } });
    const { sink, received } = slowSink(0, 1024);
    const handler = lambda.stream(
      mesh,
      async () => {
        throw new Error('secret hunter2');
      },
      { awslambda: runtime },
    );
    await handler(lambdaEvent('function-url.json'), sink, lambdaContext());
    const text = Buffer.concat(received).toString();
    expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({ statusCode: 500 });
    expect(text).not.toContain('hunter2');
  });

  it('answers 400 for an event that is not a Function URL or HTTP API event', async () => {
    const mesh = createMesh({ service: 'stream', logging: { level: 'silent' } });
    const { sink, received } = slowSink(0, 1024);
    const handler = lambda.stream(mesh, async () => new Response('unreached'), { awslambda: runtime });
    await handler(lambdaEvent('sqs.json'), sink, lambdaContext());
    const [prelude, body] = Buffer.concat(received).toString().split('\n');
    expect(JSON.parse(prelude!)).toMatchObject({ statusCode: 400 });
    expect(JSON.parse(body!)).toMatchObject({ detail: expect.stringContaining('expected a Function URL') });
  });

  it('refuses to wrap outside the Lambda runtime', () => {
    const mesh = createMesh({ service: 'stream', logging: { level: 'silent' } });
    expect(() => lambda.stream(mesh, async () => new Response('x'))).toThrow(
      /awslambda\.streamifyResponse is not available/,
    );
  });
});
