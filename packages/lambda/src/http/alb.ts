/**
 * Application Load Balancer targets. The load balancer passes the path and query as the client
 * sent them (still percent-encoded). It delivers headers either single- or multi-value,
 * depending on the target group's setting, and expects the answer in the same mode; in
 * single-value mode only one `Set-Cookie` fits.
 */
import { reasonPhrase } from '@sidecarless/core/adapter';
import type { AlbEvent, LambdaProxyResult } from '../types.js';
import {
  badEvent,
  buildUrl,
  checkMethod,
  decodeBody,
  encodeQuery,
  escapeRawPath,
  type HttpTranslator,
  headersFrom,
  multiHeader,
  multiValueHeadersOf,
  singleHeader,
} from './common.js';
import { checkMultiMap, checkSingleMap, checkText } from './event-shape.js';

/** ALB wants a status line description; unknown codes get a plain one. */
export function statusDescription(status: number): string {
  return `${status} ${reasonPhrase(status) ?? 'Status'}`;
}

/**
 * The target group's mode, read from the event: multi-value when `multiValueHeaders` is there —
 * unless it is empty beside filled `headers`, the shape event mocks send for single-value mode.
 */
function answersMultiValue(event: AlbEvent): boolean {
  const multi = event.multiValueHeaders;
  if (typeof multi !== 'object' || multi === null) return false;
  for (const _ in multi) return true;
  const single = event.headers;
  if (typeof single !== 'object' || single === null) return true;
  for (const _ in single) return false;
  return true;
}

export const alb: HttpTranslator<AlbEvent> = {
  source: 'alb',
  matches(event) {
    const context = event.requestContext as { elb?: unknown } | undefined;
    return typeof context === 'object' && context !== null && typeof context.elb === 'object';
  },
  toRequest(event, options) {
    const method = checkMethod(event.httpMethod);
    if (typeof event.path !== 'string') throw badEvent('the event has no path');
    checkText(event.path, 'path');
    checkSingleMap(event.headers, 'headers', true);
    checkMultiMap(event.multiValueHeaders, 'multiValueHeaders', true);
    checkSingleMap(event.queryStringParameters, 'queryStringParameters', false);
    checkMultiMap(event.multiValueQueryStringParameters, 'multiValueQueryStringParameters', false);
    const multi = event.multiValueHeaders;
    const host = multiHeader(multi, 'host') ?? singleHeader(event.headers, 'host');
    const proto = multiHeader(multi, 'x-forwarded-proto') ?? singleHeader(event.headers, 'x-forwarded-proto');
    const query = encodeQuery(event.multiValueQueryStringParameters, event.queryStringParameters, true);
    const body = decodeBody(event.body, event.isBase64Encoded, options);
    return {
      method,
      url: buildUrl(host, undefined, proto, escapeRawPath(event.path), escapeRawPath(query)),
      headers: () => headersFrom(event.headers, multi, body),
      body,
    };
  },
  toResult(event, response): LambdaProxyResult {
    const result: LambdaProxyResult = {
      statusCode: response.status,
      statusDescription: statusDescription(response.status),
      body: response.body,
      isBase64Encoded: response.isBase64Encoded,
    };
    if (answersMultiValue(event)) {
      result.multiValueHeaders = multiValueHeadersOf(response);
    } else {
      const headers = { ...response.headers };
      // Single-value mode has room for one Set-Cookie: the last one set wins, as a browser
      // applying them in order would end with. Turn on multi-value headers to send them all.
      const last = response.cookies.at(-1);
      if (last !== undefined) headers['set-cookie'] = last;
      result.headers = headers;
    }
    return result;
  },
};
