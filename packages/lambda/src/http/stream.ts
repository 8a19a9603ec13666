/**
 * `lambda.stream(mesh, handler)`: response streaming for Function URLs, through the runtime's
 * `awslambda.streamifyResponse`. The status and headers go first (the HTTP prelude), then the
 * `Response` body is copied chunk by chunk, waiting for `drain` whenever the runtime's stream
 * is full, so a large body never piles up in memory.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import {
  type ConfigIssue,
  ErrorCodes,
  type HttpHandler,
  type Mesh,
  SidecarlessError,
} from '@sidecarless/core';
import { createLazyRequest, describeError, prepareHttp } from '@sidecarless/core/adapter';
import { checkContext, factsOf, flushWithin } from '../invocation.js';
import { checkWrapperOptions, type LambdaWrapperOptions, throwIssues } from '../options.js';
import type { ApiGatewayProxyEventV2, LambdaContext, LambdaRaw } from '../types.js';
import { apiGatewayV2, functionUrl } from './apigw-v2.js';
import type { HttpTranslator } from './common.js';
import { connectionFactsOf } from './connection.js';

/** The parts of the runtime's `awslambda` global that streaming uses. */
export interface AwsLambdaStreamingGlobal {
  streamifyResponse<H>(handler: H): H;
  HttpResponseStream: {
    from(
      stream: Writable,
      prelude: { statusCode: number; headers: Record<string, string>; cookies: string[] },
    ): Writable;
  };
}

/** Options of `lambda.stream`. */
export interface LambdaStreamOptions extends LambdaWrapperOptions {
  /** Largest decoded request body accepted. Default 6 MiB. */
  maxBodyBytes?: number;
  /** The runtime's `awslambda` global; taken from `globalThis` when absent. */
  awslambda?: AwsLambdaStreamingGlobal;
}

/** A Lambda streaming handler, as `awslambda.streamifyResponse` returns it. */
export type LambdaStreamingHandler = (
  event: unknown,
  responseStream: Writable,
  context: LambdaContext,
) => Promise<void>;

function runtimeGlobal(options: LambdaStreamOptions): AwsLambdaStreamingGlobal | undefined {
  return options.awslambda ?? (globalThis as { awslambda?: AwsLambdaStreamingGlobal }).awslambda;
}

async function pump(body: ReadableStream<Uint8Array>, out: Writable): Promise<void> {
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (out.destroyed) throw new Error('the response stream was closed before the body ended');
      if (!out.write(value)) await once(out, 'drain');
    }
  } catch (error) {
    await reader.cancel(error).catch(() => {});
    throw error;
  } finally {
    reader.releaseLock();
  }
}

async function endStream(out: Writable): Promise<void> {
  if (out.writableFinished) return;
  const done = once(out, 'finish');
  out.end();
  await done;
}

/**
 * Wraps an HTTP handler for Function URL response streaming (`InvokeMode: RESPONSE_STREAM`).
 * The handler returns a `Response` whose body may be a `ReadableStream`; it is sent as it is
 * produced. Must run inside the Lambda Node.js runtime, which provides `awslambda`.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'feed' });
 * export const handler = lambda.stream(mesh, async () => {
 *   const body = new ReadableStream({
 *     start(controller) {
 *       for (let i = 0; i < 3; i++) controller.enqueue(new TextEncoder().encode(`line ${i}\n`));
 *       controller.close();
 *     },
 *   });
 *   return new Response(body, { headers: { 'content-type': 'text/plain' } });
 * });
 * ```
 */
export function stream(
  mesh: Mesh,
  handler: HttpHandler<LambdaRaw<ApiGatewayProxyEventV2>>,
  options: LambdaStreamOptions = {},
): LambdaStreamingHandler {
  const issues: ConfigIssue[] = [];
  const common = checkWrapperOptions(mesh, options, 'lambda.stream', ['maxBodyBytes', 'awslambda'], issues);
  const runtime = runtimeGlobal(options);
  if (!runtime || typeof runtime.streamifyResponse !== 'function') {
    issues.push({
      path: 'lambda.stream',
      message:
        'awslambda.streamifyResponse is not available; response streaming runs only inside the Lambda Node.js runtime',
    });
  }
  throwIssues(issues);
  const translate = { maxBodyBytes: options.maxBodyBytes ?? 6 * 1024 * 1024 };
  const run = prepareHttp(mesh, handler);
  const { HttpResponseStream } = runtime!;

  const streamingHandler: LambdaStreamingHandler = async function sidecarlessStreamHandler(
    event,
    responseStream,
    context,
  ) {
    checkContext(context);
    const shaped = (typeof event === 'object' && event !== null ? event : {}) as Record<string, unknown>;
    const translator: HttpTranslator<ApiGatewayProxyEventV2> = functionUrl.matches(shaped)
      ? functionUrl
      : apiGatewayV2;
    try {
      if (!translator.matches(shaped)) {
        const { status, headers, body } = describeError(
          new SidecarlessError(
            ErrorCodes.badRequest,
            'lambda.stream(): expected a Function URL or HTTP API (payload 2.0) event',
            { status: 400 },
          ),
          context.awsRequestId,
        );
        const out = HttpResponseStream.from(responseStream, { statusCode: status, headers, cookies: [] });
        out.write(JSON.stringify(body));
        await endStream(out);
        return;
      }
      let response: Response;
      try {
        const init = translator.toRequest(event as ApiGatewayProxyEventV2, translate);
        const facts = factsOf(event as ApiGatewayProxyEventV2, context, 'http', common.timing, {
          connection: connectionFactsOf(translator.source, event),
        });
        response = await run(createLazyRequest(init), facts);
      } catch (error) {
        // Only a malformed event gets here: the pipeline turns handler errors into responses.
        const { status, headers, body } = describeError(error, context.awsRequestId);
        const out = HttpResponseStream.from(responseStream, { statusCode: status, headers, cookies: [] });
        out.write(JSON.stringify(body));
        await endStream(out);
        return;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of response.headers) if (name !== 'set-cookie') headers[name] = value;
      const out = HttpResponseStream.from(responseStream, {
        statusCode: response.status,
        headers,
        cookies: response.headers.getSetCookie(),
      });
      if (response.body) await pump(response.body, out);
      await endStream(out);
    } finally {
      await flushWithin(mesh, context);
    }
  };
  return runtime!.streamifyResponse(streamingHandler);
}
