/**
 * API Gateway REST APIs (payload format 1.0). `path` is the resource path without the stage
 * and already percent-decoded by API Gateway, so it is re-encoded; query values are decoded
 * too. The result carries every header in `multiValueHeaders` so several `Set-Cookie` survive.
 */
import type { ApiGatewayProxyEventV1, LambdaProxyResult } from '../types.js';
import {
  badEvent,
  buildUrl,
  checkMethod,
  decodeBody,
  encodeDecodedPath,
  encodeQuery,
  type HttpTranslator,
  headersFrom,
  multiHeader,
  multiValueHeadersOf,
  singleHeader,
} from './common.js';
import { checkMultiMap, checkSingleMap, checkText } from './event-shape.js';

export const apiGatewayV1: HttpTranslator<ApiGatewayProxyEventV1> = {
  source: 'api-gateway-rest',
  matches(event) {
    // REST events carry version "1.0" or none. The console's test events and `sam local`
    // samples come without requestContext; peers read them as REST, and so do we (the facts
    // requestContext would give stay unset). ALB (requestContext.elb) and WebSocket
    // (connectionId) events carry httpMethod too, and are not REST.
    if (typeof event.httpMethod !== 'string' || event.version === '2.0') return false;
    const context = event.requestContext as Record<string, unknown> | undefined | null;
    if (context === undefined || context === null) return true;
    return typeof context === 'object' && context.elb === undefined && context.connectionId === undefined;
  },
  toRequest(event, options) {
    const method = checkMethod(event.httpMethod);
    if (typeof event.path !== 'string') throw badEvent('the event has no path');
    checkText(event.path, 'path');
    checkSingleMap(event.headers, 'headers', true);
    checkMultiMap(event.multiValueHeaders, 'multiValueHeaders', true);
    checkSingleMap(event.queryStringParameters, 'queryStringParameters', false);
    checkMultiMap(event.multiValueQueryStringParameters, 'multiValueQueryStringParameters', false);
    const host = multiHeader(event.multiValueHeaders, 'host') ?? singleHeader(event.headers, 'host');
    const proto =
      multiHeader(event.multiValueHeaders, 'x-forwarded-proto') ??
      singleHeader(event.headers, 'x-forwarded-proto');
    const query = encodeQuery(event.multiValueQueryStringParameters, event.queryStringParameters, false);
    const body = decodeBody(event.body, event.isBase64Encoded, options);
    return {
      method,
      url: buildUrl(host, event.requestContext?.domainName, proto, encodeDecodedPath(event.path), query),
      headers: () => headersFrom(event.headers, event.multiValueHeaders, body),
      body,
    };
  },
  // `resource` is the template API Gateway matched (`/orders/{id}`, `/{proxy+}`).
  routeOf: (event) =>
    typeof event.resource === 'string' && event.resource !== '' ? event.resource : undefined,
  toResult(_event, response): LambdaProxyResult {
    return {
      statusCode: response.status,
      multiValueHeaders: multiValueHeadersOf(response),
      body: response.body,
      isBase64Encoded: response.isBase64Encoded,
    };
  },
};
