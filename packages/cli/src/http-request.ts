/**
 * The HTTP request an event stands for. `--method`, `--path`, `--header` and `--body` change an
 * HTTP event in its own shape (API Gateway v2 and function URLs, API Gateway v1, ALB), so a
 * Lambda handler sees what the gateway would send; for OpenFaaS and Knative the event becomes
 * the one request sent to the adapter on 127.0.0.1 (a CloudEvent in binary content mode).
 */
import { UsageError } from './terminal.js';

/** What changes in the event's request. */
export interface RequestOverride {
  readonly method?: string | undefined;
  /** Path with an optional query: `/orders/42?expand=items`. */
  readonly path?: string | undefined;
  readonly headers?: readonly (readonly [string, string])[] | undefined;
  readonly body?: string | undefined;
}

/** One request, as sent over the wire. */
export interface RequestParts {
  readonly method: string;
  readonly path: string;
  readonly headers: [string, string][];
  readonly body: Buffer;
}

type Json = Record<string, unknown>;
type Shape = 'v2' | 'v1' | 'alb' | 'cloudevent';

const record = (value: unknown): Json =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};

/** Which HTTP shape `event` has, if any. */
export function shapeOf(event: unknown): Shape | undefined {
  const e = record(event);
  if (e.version === '2.0' && typeof e.rawPath === 'string') return 'v2';
  if (typeof e.specversion === 'string') return 'cloudevent';
  if (typeof e.httpMethod === 'string' && record(e.requestContext).elb !== undefined) return 'alb';
  if (typeof e.httpMethod === 'string') return 'v1';
  return undefined;
}

function splitPath(path: string): { pathname: string; query: string } {
  if (!path.startsWith('/'))
    throw new UsageError(`--path: "${path}" must start with /; use --path /orders/42`);
  const at = path.indexOf('?');
  return at < 0 ? { pathname: path, query: '' } : { pathname: path.slice(0, at), query: path.slice(at + 1) };
}

function queryMaps(query: string): { single: Record<string, string>; multi: Record<string, string[]> } {
  const multi: Record<string, string[]> = {};
  for (const [key, value] of new URLSearchParams(query)) {
    multi[key] ??= [];
    multi[key].push(value);
  }
  const single: Record<string, string> = {};
  for (const [key, values] of Object.entries(multi)) single[key] = values.at(-1)!;
  return { single, multi };
}

/** `event` with the request changed as `override` says; the event itself is left alone. */
export function withRequest(event: unknown, override: RequestOverride): unknown {
  const given = override.method ?? override.path ?? override.headers?.[0] ?? override.body;
  if (given === undefined) return event;
  const shape = shapeOf(event);
  if (shape === undefined || shape === 'cloudevent')
    throw new UsageError(
      '--method, --path, --header and --body change an HTTP event; use --event api-gw-v2, api-gw-v1, alb or function-url',
    );
  const e = structuredClone(event) as Json;
  const method = override.method?.toUpperCase();
  const context = record(e.requestContext);
  if (shape === 'v2') {
    const http = record(context.http);
    if (method) http.method = method;
    if (override.path !== undefined) {
      const { pathname, query } = splitPath(override.path);
      e.rawPath = pathname;
      http.path = pathname;
      e.rawQueryString = query;
      const { multi } = queryMaps(query);
      // HTTP APIs join repeated parameters with commas.
      e.queryStringParameters =
        Object.keys(multi).length === 0
          ? undefined
          : Object.fromEntries(Object.entries(multi).map(([key, values]) => [key, values.join(',')]));
    }
    const headers = record(e.headers);
    for (const [name, value] of override.headers ?? []) {
      const key = name.toLowerCase();
      if (key === 'cookie')
        e.cookies = [...((e.cookies as string[] | undefined) ?? []), ...value.split(/;\s*/)];
      else headers[key] = headers[key] === undefined ? value : `${headers[key]},${value}`;
    }
    e.headers = headers;
  } else {
    if (method) {
      e.httpMethod = method;
      if (shape === 'v1') context.httpMethod = method;
    }
    if (override.path !== undefined) {
      const { pathname, query } = splitPath(override.path);
      e.path = pathname;
      const { single, multi } = queryMaps(query);
      const none = Object.keys(multi).length === 0;
      e.queryStringParameters = none ? (shape === 'v1' ? null : {}) : single;
      if (shape === 'v1') {
        e.multiValueQueryStringParameters = none ? null : multi;
        const stage = typeof context.stage === 'string' ? `/${context.stage}` : '';
        context.path = `${stage}${pathname}`;
        context.resourcePath = pathname;
        e.resource = pathname;
      }
    }
    const headers = record(e.headers);
    const multiHeaders = shape === 'v1' ? record(e.multiValueHeaders) : undefined;
    for (const [given, value] of override.headers ?? []) {
      // ALB lowercases header names; REST APIs keep the client's case.
      const name = shape === 'alb' ? given.toLowerCase() : given;
      headers[name] = value;
      if (multiHeaders) multiHeaders[name] = [...((multiHeaders[name] as string[] | undefined) ?? []), value];
    }
    e.headers = headers;
    if (multiHeaders) e.multiValueHeaders = multiHeaders;
  }
  // A GET or HEAD carries no body: the fixture's order goes, with the headers that described it.
  if (override.body === undefined && (method === 'GET' || method === 'HEAD') && e.body != null) {
    e.body = shape === 'v2' ? undefined : null;
    e.isBase64Encoded = false;
    for (const headers of [record(e.headers), record(e.multiValueHeaders)])
      for (const key of Object.keys(headers)) if (/^content-(length|type)$/i.test(key)) delete headers[key];
  }
  if (override.body !== undefined) {
    e.body = override.body;
    e.isBase64Encoded = false;
    const headers = record(e.headers);
    const lengthKey = Object.keys(headers).find((key) => key.toLowerCase() === 'content-length');
    if (lengthKey !== undefined) headers[lengthKey] = String(Buffer.byteLength(override.body));
  }
  return e;
}

// Recomputed or meaningless on a new connection.
const hopHeaders = new Set(['content-length', 'connection', 'transfer-encoding', 'keep-alive']);

function headerPairs(single: unknown, multi: unknown): [string, string][] {
  const pairs: [string, string][] = [];
  const many = record(multi);
  const names = new Set(Object.keys(many).map((name) => name.toLowerCase()));
  for (const [name, values] of Object.entries(many))
    if (Array.isArray(values)) for (const value of values) pairs.push([name, String(value)]);
  for (const [name, value] of Object.entries(record(single)))
    if (!names.has(name.toLowerCase()) && value !== undefined && value !== null)
      pairs.push([name, String(value)]);
  return pairs.filter(([name]) => !hopHeaders.has(name.toLowerCase()));
}

function bodyOf(e: Json): Buffer {
  if (typeof e.body !== 'string') return Buffer.alloc(0);
  return Buffer.from(e.body, e.isBase64Encoded === true ? 'base64' : 'utf8');
}

/** The request `event` stands for, or `undefined` when it is not an HTTP event or a CloudEvent. */
export function requestOf(event: unknown): RequestParts | undefined {
  const e = record(event);
  switch (shapeOf(event)) {
    case 'v2': {
      const context = record(e.requestContext);
      const headers = headerPairs(e.headers, undefined);
      if (Array.isArray(e.cookies) && e.cookies.length > 0) headers.push(['cookie', e.cookies.join('; ')]);
      const query =
        typeof e.rawQueryString === 'string' && e.rawQueryString !== '' ? `?${e.rawQueryString}` : '';
      return {
        method: String(record(context.http).method ?? 'GET'),
        path: `${e.rawPath as string}${query}`,
        headers,
        body: bodyOf(e),
      };
    }
    case 'v1':
    case 'alb': {
      const params = new URLSearchParams();
      const multi = record(e.multiValueQueryStringParameters);
      if (Object.keys(multi).length > 0) {
        for (const [key, values] of Object.entries(multi))
          if (Array.isArray(values)) for (const value of values) params.append(key, String(value));
      } else
        for (const [key, value] of Object.entries(record(e.queryStringParameters)))
          if (value !== undefined && value !== null) params.append(key, String(value));
      const query = params.size > 0 ? `?${params}` : '';
      return {
        method: e.httpMethod as string,
        path: `${typeof e.path === 'string' ? e.path : '/'}${query}`,
        headers: headerPairs(e.headers, e.multiValueHeaders),
        body: bodyOf(e),
      };
    }
    case 'cloudevent': {
      // Binary content mode: attributes as ce-* headers, the data as the body.
      const headers: [string, string][] = [];
      for (const [name, value] of Object.entries(e))
        if (name !== 'data' && name !== 'data_base64' && name !== 'datacontenttype' && value !== undefined)
          headers.push([`ce-${name}`, typeof value === 'string' ? value : JSON.stringify(value)]);
      const contentType = typeof e.datacontenttype === 'string' ? e.datacontenttype : 'application/json';
      headers.push(['content-type', contentType]);
      const body =
        typeof e.data_base64 === 'string'
          ? Buffer.from(e.data_base64, 'base64')
          : typeof e.data === 'string'
            ? Buffer.from(e.data)
            : e.data === undefined
              ? Buffer.alloc(0)
              : Buffer.from(JSON.stringify(e.data));
      return { method: 'POST', path: '/', headers, body };
    }
    default:
      return undefined;
  }
}
