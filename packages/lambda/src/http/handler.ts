/**
 * `lambda(mesh, handler)`: any HTTP-shaped Lambda event in, the result its source expects out.
 */
import {
  type ConfigIssue,
  ErrorCodes,
  type HttpHandler,
  isSidecarlessError,
  type Mesh,
  SidecarlessError,
} from '@sidecarless/core';
import {
  createLazyRequest,
  describeError,
  type LazyRequestInit,
  prepareHttp,
  wasLogged,
} from '@sidecarless/core/adapter';
import { checkContext, factsOf, flushWithin } from '../invocation.js';
import { checkWrapperOptions, isWarmupEvent, type LambdaWrapperOptions, throwIssues } from '../options.js';
import type { LambdaContext, LambdaHttpEvent, LambdaHttpResult, LambdaRaw } from '../types.js';
import { alb } from './alb.js';
import { apiGatewayV1 } from './apigw-v1.js';
import { apiGatewayV2, functionUrl } from './apigw-v2.js';
import { badEvent, type HttpTranslator, type ResponseParts, type TranslateOptions } from './common.js';
import { connectionFactsOf } from './connection.js';
import { type BinaryPredicate, isBinaryByDefault, responseParts } from './response-parts.js';
import { vpcLatticeV2 } from './vpc-lattice.js';

/**
 * Options of `lambda(mesh, handler, options)`.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * export const handler = lambda(createMesh({ service: 'upload' }), async (request) => {
 *   return Response.json({ bytes: (await request.arrayBuffer()).byteLength });
 * }, { maxBodyBytes: 1024 * 1024 });
 * ```
 */
export interface LambdaHttpOptions extends LambdaWrapperOptions {
  /**
   * Decides which response bodies are sent base64-encoded. Default: everything except text,
   * JSON, XML, form and SVG types, plus anything with a `content-encoding`.
   */
  isBinary?: BinaryPredicate;
  /** Largest decoded request body accepted; larger ones get a 413. Default 6 MiB (Lambda's own limit). */
  maxBodyBytes?: number;
  /**
   * Largest response body sent (after base64). Lambda refuses results over 6 MB and the client
   * sees a bare 502 with nothing in your logs; over this limit the adapter logs the size and
   * answers a 500 problem instead. Default 6 MiB minus 64 KiB for the headers.
   */
  maxResponseBytes?: number;
}

const defaultMaxResponseBytes = 6 * 1024 * 1024 - 64 * 1024;

/** True when `body` is over `limit` UTF-8 bytes; measures only when the length cannot tell. */
function isOver(body: string, limit: number): boolean {
  if (body.length > limit) return true;
  return body.length * 3 > limit && Buffer.byteLength(body) > limit;
}

/** What the wrapped HTTP handler receives as `ctx.raw`. */
export type LambdaHttpRaw = LambdaRaw<LambdaHttpEvent>;

/** Sent back for a warm-up ping. */
export const warmupResult = { statusCode: 200, body: '', isBase64Encoded: false } as const;

// Most specific first: Lattice and Function URLs are told apart from their neighbours by
// fields the more general shapes lack.
const translators: readonly HttpTranslator<never>[] = [
  vpcLatticeV2 as HttpTranslator<never>,
  functionUrl as HttpTranslator<never>,
  apiGatewayV2 as HttpTranslator<never>,
  alb as HttpTranslator<never>,
  apiGatewayV1 as HttpTranslator<never>,
];

const expected =
  'an API Gateway REST (payload 1.0) or HTTP API (payload 2.0) event, a Function URL, ALB or VPC Lattice (2.0) event';

function unknownEvent(event: unknown): SidecarlessError {
  const context = (event as { requestContext?: { connectionId?: unknown } } | null)?.requestContext;
  const hint =
    context && typeof context === 'object' && context.connectionId !== undefined
      ? ' (this is an API Gateway WebSocket event: wrap that function with lambda.event)'
      : '; for other events use lambda.sqs, lambda.sns, lambda.eventbridge, lambda.s3 or lambda.event';
  return new SidecarlessError(ErrorCodes.badRequest, `lambda(): expected ${expected}${hint}`, {
    status: 400,
  });
}

function problemParts(error: unknown, invocationId: string): ResponseParts {
  const { status, headers, body } = describeError(error, invocationId);
  return { status, headers, cookies: [], body: JSON.stringify(body), isBase64Encoded: false };
}

/**
 * Wraps an HTTP handler for API Gateway (REST and HTTP APIs), Function URLs, ALB (single- and
 * multi-value) and VPC Lattice. The source is recognised from the event's shape; the handler
 * sees a standard `Request` and answers with a `Response`; errors become problem responses.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'orders' });
 * export const handler = lambda(mesh, async (request, ctx) => {
 *   const url = new URL(request.url);
 *   return Response.json({ path: url.pathname, id: ctx.invocationId, cold: ctx.coldStart });
 * });
 * ```
 */
export function httpHandler(
  mesh: Mesh,
  handler: HttpHandler<LambdaHttpRaw>,
  options: LambdaHttpOptions = {},
): (event: unknown, context: LambdaContext) => Promise<LambdaHttpResult | typeof warmupResult> {
  const issues: ConfigIssue[] = [];
  const common = checkWrapperOptions(
    mesh,
    options,
    'lambda',
    ['isBinary', 'maxBodyBytes', 'maxResponseBytes'],
    issues,
  );
  if (options.isBinary !== undefined && typeof options.isBinary !== 'function') {
    issues.push({
      path: 'lambda.isBinary',
      message: 'must be a function (contentType, contentEncoding) => boolean',
    });
  }
  const maxBodyBytes = options.maxBodyBytes ?? 6 * 1024 * 1024;
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) {
    issues.push({
      path: 'lambda.maxBodyBytes',
      message: 'must be a whole number of bytes, for example 1048576',
    });
  }
  const maxResponseBytes = options.maxResponseBytes ?? defaultMaxResponseBytes;
  if (!Number.isSafeInteger(maxResponseBytes) || maxResponseBytes < 0) {
    issues.push({
      path: 'lambda.maxResponseBytes',
      message: 'must be a whole number of bytes, for example 1048576',
    });
  }
  if (typeof handler !== 'function')
    issues.push({ path: 'lambda', message: 'the handler must be a function' });
  throwIssues(issues);

  const translate: TranslateOptions = { maxBodyBytes };
  const isBinary = options.isBinary ?? isBinaryByDefault;
  const run = prepareHttp(mesh, handler);
  // Which source an event is read as depends on the event alone — never on the previous
  // invocation — so the same event reads the same on a fresh and a warm instance. Five cheap
  // shape checks: well under a microsecond.
  function pick(event: unknown): HttpTranslator<never> {
    if (typeof event !== 'object' || event === null) throw unknownEvent(event);
    const shaped = event as Record<string, unknown>;
    for (const translator of translators) if (translator.matches(shaped)) return translator;
    throw unknownEvent(event);
  }

  return async function sidecarlessHttpHandler(event, context) {
    checkContext(context);
    if (isWarmupEvent(event, common.isWarmup)) return warmupResult;
    const translator = pick(event);
    const facts = factsOf(event as LambdaHttpEvent, context, 'http', common.timing, {
      connection: connectionFactsOf(translator.source, event),
      route: translator.routeOf?.(event as never),
    });
    try {
      let init: LazyRequestInit;
      let request: Request;
      try {
        init = translator.toRequest(event as never, translate);
        // Where the runtime needs real requests (Node 24) the headers are checked here, so a
        // header Fetch refuses is a malformed event too.
        request = createLazyRequest(init);
      } catch (thrown) {
        // Whatever a translator or the request constructor threw, a malformed event is a 400.
        const error = isSidecarlessError(thrown)
          ? thrown
          : badEvent('the event cannot be read as an HTTP request');
        mesh.log.info(
          {
            invocation_id: context.awsRequestId,
            source: translator.source,
            reason: (error as Error).message,
          },
          'malformed event refused',
        );
        return translator.toResult(event as never, problemParts(error, context.awsRequestId));
      }
      const response = await run(request, facts);
      let parts: ResponseParts;
      try {
        const read = responseParts(response, isBinary, init.method === 'HEAD');
        parts = read instanceof Promise ? await read : read;
      } catch (error) {
        if (!wasLogged(error))
          mesh.log.error({ err: error, invocation_id: context.awsRequestId }, 'reading the response failed');
        parts = problemParts(error, context.awsRequestId);
      }
      if (isOver(parts.body, maxResponseBytes)) {
        mesh.log.error(
          {
            invocation_id: context.awsRequestId,
            bytes: Buffer.byteLength(parts.body),
            limit: maxResponseBytes,
          },
          'response body too large for Lambda',
        );
        parts = problemParts(undefined, context.awsRequestId);
      }
      return translator.toResult(event as never, parts);
    } finally {
      const flushing = flushWithin(mesh, context);
      if (flushing) await flushing;
    }
  };
}
