/**
 * API Gateway HTTP APIs (payload format 2.0) and Lambda Function URLs, which share the shape.
 * `rawPath` and `rawQueryString` are used as sent; cookies arrive in `cookies` and leave in
 * `cookies` (API Gateway v2 drops a `set-cookie` header otherwise).
 */
import type { ApiGatewayProxyEventV2, LambdaProxyResultV2 } from '../types.js';
import {
  badEvent,
  buildUrl,
  checkMethod,
  decodeBody,
  escapeRawPath,
  fieldText,
  type HttpTranslator,
  headersFrom,
  singleHeader,
} from './common.js';
import { checkCookies, checkSingleMap, checkText } from './event-shape.js';

function isV2(event: Record<string, unknown>): boolean {
  const context = event.requestContext as { http?: unknown } | undefined;
  return (
    event.version === '2.0' &&
    typeof event.rawPath === 'string' &&
    typeof context === 'object' &&
    context !== null &&
    typeof context.http === 'object' &&
    context.http !== null
  );
}

function translator(source: string, matches: (event: Record<string, unknown>) => boolean) {
  const v2: HttpTranslator<ApiGatewayProxyEventV2> = {
    source,
    matches,
    toRequest(event, options) {
      const method = checkMethod(event.requestContext.http.method);
      if (typeof event.rawPath !== 'string') throw badEvent('the event has no rawPath');
      checkText(event.rawPath, 'rawPath');
      if (typeof event.rawQueryString === 'string') checkText(event.rawQueryString, 'rawQueryString');
      checkSingleMap(event.headers, 'headers', true);
      checkCookies(event.cookies);
      const query = typeof event.rawQueryString === 'string' ? escapeRawPath(event.rawQueryString) : '';
      const host = singleHeader(event.headers, 'host');
      const proto = singleHeader(event.headers, 'x-forwarded-proto');
      const body = decodeBody(event.body, event.isBase64Encoded, options);
      return {
        method,
        url: buildUrl(host, event.requestContext.domainName, proto, escapeRawPath(event.rawPath), query),
        headers: () => {
          const headers = headersFrom(event.headers, undefined, body);
          if (Array.isArray(event.cookies) && event.cookies.length > 0) {
            headers.push('cookie', fieldText(event.cookies.join('; ')));
          }
          return headers;
        },
        body,
      };
    },
    // `routeKey` is `"POST /orders/{id}"`; `$default` names no route.
    routeOf(event) {
      const key = event.routeKey;
      if (typeof key !== 'string') return undefined;
      const space = key.indexOf(' ');
      return space === -1 ? undefined : key.slice(space + 1);
    },
    toResult(_event, response): LambdaProxyResultV2 {
      const result: LambdaProxyResultV2 = {
        statusCode: response.status,
        headers: response.headers,
        body: response.body,
        isBase64Encoded: response.isBase64Encoded,
      };
      if (response.cookies.length > 0) result.cookies = response.cookies;
      return result;
    },
  };
  return v2;
}

/**
 * Function URLs: a payload 2.0 event on a `*.lambda-url.*` domain (or, as in older samples, one
 * without any route key).
 */
export const functionUrl = translator('function-url', (event) => {
  if (!isV2(event)) return false;
  const context = event.requestContext as { domainName?: unknown; routeKey?: unknown };
  if (typeof context.domainName === 'string' && context.domainName.includes('.lambda-url.')) return true;
  return event.routeKey === undefined && context.routeKey === undefined;
});

/** API Gateway HTTP APIs. */
export const apiGatewayV2 = translator('api-gateway-http', isV2);
