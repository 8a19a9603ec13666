/**
 * VPC Lattice (payload version 2.0): headers and query parameters arrive as arrays of values.
 * Query values are taken as decoded and re-encoded, as with API Gateway.
 */
import type { LambdaProxyResult, VpcLatticeEventV2 } from '../types.js';
import { statusDescription } from './alb.js';
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
} from './common.js';
import { checkMultiMap, checkText } from './event-shape.js';

export const vpcLatticeV2: HttpTranslator<VpcLatticeEventV2> = {
  source: 'vpc-lattice',
  matches(event) {
    const context = event.requestContext as Record<string, unknown> | undefined;
    return (
      event.version === '2.0' &&
      typeof event.method === 'string' &&
      typeof context === 'object' &&
      context !== null &&
      (context.serviceNetworkArn !== undefined || context.serviceArn !== undefined)
    );
  },
  toRequest(event, options) {
    const method = checkMethod(event.method);
    if (typeof event.path !== 'string') throw badEvent('the event has no path');
    checkText(event.path, 'path');
    checkMultiMap(event.headers, 'headers', true, true);
    checkMultiMap(event.queryStringParameters, 'queryStringParameters', false, true);
    // Lattice may hand over the path with its query attached; keep them apart.
    const mark = event.path.indexOf('?');
    const path = mark === -1 ? event.path : event.path.slice(0, mark);
    const inline = mark === -1 ? '' : escapeRawPath(event.path.slice(mark + 1));
    const query = inline || encodeQuery(event.queryStringParameters, undefined, false);
    const host = multiHeader(event.headers, 'host');
    const proto = multiHeader(event.headers, 'x-forwarded-proto');
    const body = decodeBody(event.body, event.isBase64Encoded, options);
    return {
      method,
      url: buildUrl(host, undefined, proto, escapeRawPath(path), query),
      headers: () => headersFrom(undefined, event.headers, body),
      body,
    };
  },
  toResult(_event, response): LambdaProxyResult {
    const headers = { ...response.headers };
    // Lattice answers with single-value headers: one Set-Cookie fits (see alb.ts).
    const last = response.cookies.at(-1);
    if (last !== undefined) headers['set-cookie'] = last;
    return {
      statusCode: response.status,
      statusDescription: statusDescription(response.status),
      headers,
      body: response.body,
      isBase64Encoded: response.isBase64Encoded,
    };
  },
};
