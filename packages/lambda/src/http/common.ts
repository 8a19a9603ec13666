/**
 * What every HTTP translator shares: decoding the body, building the URL, encoding paths and
 * queries, and the response parts every result shape is built from.
 */
import { ErrorCodes, SidecarlessError } from '@sidecarless/core';
import { badRequest, checkedAuthority, type LazyRequestInit, requestOrigin } from '@sidecarless/core/adapter';
import type { LambdaHttpResult } from '../types.js';

/** The options every translator reads, normalised once by `lambda()`. */
export interface TranslateOptions {
  /** Largest decoded request body accepted, in bytes. */
  readonly maxBodyBytes: number;
}

/** The handler's response, reduced to what a Lambda result needs. */
export interface ResponseParts {
  readonly status: number;
  /** Lower-case names; every header except `set-cookie`, values combined as Fetch does. */
  readonly headers: Record<string, string>;
  readonly cookies: string[];
  readonly body: string;
  readonly isBase64Encoded: boolean;
}

/** One HTTP event source: recognises its events and translates both ways. */
export interface HttpTranslator<Event = never> {
  /** The source's name, for logs and errors. */
  readonly source: string;
  /** True when `event` has this source's shape. Cheap: called per invocation. */
  matches(event: Record<string, unknown>): boolean;
  /** The request the handler sees. Throws a 400 `SidecarlessError` when the event is malformed. */
  toRequest(event: Event, options: TranslateOptions): LazyRequestInit;
  /** The matched route template (`http.route`), when the event names one. */
  routeOf?(event: Event): string | undefined;
  /** The result the invoking service expects, in the mode the request came in. */
  toResult(event: Event, response: ResponseParts): LambdaHttpResult;
}

/** A 400 for an HTTP-shaped event that cannot be read. */
export function badEvent(reason: string): SidecarlessError {
  return badRequest(reason);
}

const base64Shape = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes the event's body. Base64 is checked before decoding because `Buffer.from(…,
 * 'base64')` silently skips invalid characters: a corrupted body would reach the handler as a
 * guess.
 */
export function decodeBody(
  body: unknown,
  isBase64Encoded: unknown,
  options: TranslateOptions,
): string | Uint8Array | null {
  if (body === undefined || body === null || body === '') return null;
  if (typeof body !== 'string') throw badEvent('the event body is not a string');
  if (isBase64Encoded === true) {
    if (body.length % 4 !== 0 || !base64Shape.test(body))
      throw badEvent('the event body is not valid base64');
    // 3 bytes per 4 characters, before padding: checked before allocating the buffer.
    if ((body.length / 4) * 3 - 2 > options.maxBodyBytes) throw tooLarge(options);
    return Buffer.from(body, 'base64');
  }
  // A UTF-16 string takes at most 3 UTF-8 bytes per code unit; measure only when it may be over.
  if (body.length * 3 > options.maxBodyBytes && Buffer.byteLength(body) > options.maxBodyBytes) {
    throw tooLarge(options);
  }
  return body;
}

function tooLarge(options: TranslateOptions): SidecarlessError {
  return new SidecarlessError(
    ErrorCodes.badRequest,
    `the request body is larger than ${options.maxBodyBytes} bytes`,
    {
      status: 413,
      expose: true,
    },
  );
}

/** Characters allowed unescaped in a URL path (RFC 3986 pchar plus `/`), and `%`. */
const notPathSafe = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]|%(?![0-9A-Fa-f]{2})/g;

/** Escapes what may not appear in a path, keeping escapes the client already made. */
export function escapeRawPath(path: string): string {
  return path.replace(notPathSafe, encodeURIComponent);
}

/** Re-encodes a path API Gateway decoded: `%`, `?` and `#` become escapes again. */
export function encodeDecodedPath(path: string): string {
  return encodeURI(path).replace(/[?#]/g, encodeURIComponent);
}

/**
 * A query string from decoded (possibly multi-value) parameters. API Gateway and ALB fill both
 * maps — the multi-value one with every value, the single-value one with the last — but test
 * helpers, event mocks and emulators often send `multiValueQueryStringParameters: {}` beside a
 * filled single-value map: a name takes its values from the multi-value map when it has any
 * there, and from the single-value map otherwise, so nothing is dropped or doubled.
 */
export function encodeQuery(
  multi: Record<string, string[] | undefined> | null | undefined,
  single: Record<string, string | undefined> | null | undefined,
  alreadyEncoded: boolean,
): string {
  const encode = alreadyEncoded ? (value: string) => value : encodeURIComponent;
  let query = '';
  const add = (name: string, value: unknown) => {
    query += `${query ? '&' : ''}${encode(name)}=${encode(String(value))}`;
  };
  if (multi) {
    for (const name in multi) {
      const values = multi[name];
      if (values === undefined || values === null) continue;
      for (const value of Array.isArray(values) ? values : [values]) add(name, value);
    }
  }
  if (single) {
    for (const name in single) {
      const value = single[name];
      if (value === undefined || value === null || hasValues(multi, name)) continue;
      add(name, value);
    }
  }
  return query;
}

/** True when `map[name]` holds at least one value. */
function hasValues(map: Record<string, unknown> | null | undefined, name: string): boolean {
  const values = map?.[name];
  return values !== undefined && values !== null && (!Array.isArray(values) || values.length > 0);
}

function validAuthority(value: string): boolean {
  try {
    checkedAuthority(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * The absolute URL, from the Host header or, without one, the domain the platform names. A Host
 * header that is not a valid authority is a 400; a `domainName` that is not one (AWS's sample
 * events carry placeholders such as `<url-id>.lambda-url…`) gives `localhost`.
 */
export function buildUrl(
  host: string | undefined,
  domainName: unknown,
  proto: string | undefined,
  path: string,
  query: string,
): string {
  const scheme = proto === 'http' ? 'http' : 'https';
  let origin: string;
  if (host !== undefined) {
    try {
      // The container servers' authority rules: no path, query or credentials; a port ≤ 65535.
      origin = requestOrigin(scheme, host);
    } catch (error) {
      throw badEvent(`the event's host header ${(error as Error).message.replace(/^the Host header /, '')}`);
    }
  } else {
    origin = `${scheme}://${typeof domainName === 'string' && validAuthority(domainName) ? domainName : 'localhost'}`;
  }
  const safePath = path.startsWith('/') ? path : `/${path}`;
  return `${origin}${safePath}${query ? `?${query}` : ''}`;
}

/**
 * The request's headers as a flat name/value list (the lazy request reads `get`/`has` from it
 * without building a `Headers`). Both maps merge as API Gateway fills them (see `encodeQuery`):
 * a name's values come from the multi-value map when it has any there, from the single-value
 * map otherwise — names compared without case, as HTTP does. A name or value Fetch refuses
 * becomes a 400 when the handler first reads the headers.
 */
export function headersFrom(
  single: Record<string, string | undefined> | null | undefined,
  multi: Record<string, string[] | undefined> | null | undefined,
  body: string | Uint8Array | null,
): string[] {
  const pairs: string[] = [];
  let fromMulti: Set<string> | undefined;
  if (multi) {
    for (const name in multi) {
      const values = multi[name];
      if (values === undefined || values === null) continue;
      // A plain value stands for a one-value list (VPC Lattice is published both ways; checked
      // in event-shape.ts for the sources that must send lists).
      if (Array.isArray(values)) {
        if (values.length === 0) continue;
        for (const value of values) pairs.push(name, fieldText(value));
      } else pairs.push(name, fieldText(values));
      fromMulti ??= new Set();
      fromMulti.add(name.toLowerCase());
    }
  }
  if (single) {
    for (const name in single) {
      const value = single[name];
      if (value === undefined || value === null) continue;
      if (fromMulti?.has(name.toLowerCase())) continue;
      pairs.push(name, fieldText(value));
    }
  }
  if (body !== null) withContentLength(pairs, body);
  return pairs;
}

/** Characters a Fetch header value cannot hold (it is a byte string: Latin-1 only). */
const beyondLatin1 = /[\u0100-\uffff]+/g;

/**
 * A header value as Fetch can carry it. Outside Latin-1 (`x-city: 炎`) API Gateway passes the
 * UTF-8 text through; Fetch refuses it, so the runs beyond Latin-1 are percent-encoded as UTF-8
 * (`%E7%82%8E`), as peers' adapters pass them: the handler gets the request, and
 * `decodeURIComponent` gives the text back. Unpaired surrogates were refused in event-shape.ts.
 */
export function fieldText(value: unknown): string {
  const text = String(value);
  beyondLatin1.lastIndex = 0;
  return beyondLatin1.test(text) ? text.replace(beyondLatin1, encodeURIComponent) : text;
}

/**
 * Adds `content-length` (bytes) for a body the event carries without one, as a server's request
 * would have it and peers' adapters set it: handlers and libraries that check it (body parsers,
 * size limits, proxies forwarding the request) see the real size.
 */
function withContentLength(pairs: string[], body: string | Uint8Array): void {
  for (let index = 0; index < pairs.length; index += 2) {
    if (pairs[index]!.toLowerCase() === 'content-length') return;
  }
  pairs.push('content-length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
}

/** Reads one header from a single-value map, whatever its case. */
export function singleHeader(
  headers: Record<string, string | undefined> | null | undefined,
  lowerName: string,
): string | undefined {
  if (!headers) return undefined;
  const exact = headers[lowerName];
  if (exact !== undefined) return exact;
  for (const name in headers) if (name.toLowerCase() === lowerName) return headers[name];
  return undefined;
}

/** Reads one header from a multi-value map, whatever its case. */
export function multiHeader(
  headers: Record<string, string[] | undefined> | null | undefined,
  lowerName: string,
): string | undefined {
  if (!headers) return undefined;
  const firstOf = (values: unknown): string | undefined =>
    values === undefined || values === null
      ? undefined
      : Array.isArray(values)
        ? (values[0] as string | undefined)
        : String(values);
  const exact = headers[lowerName];
  if (exact !== undefined) return firstOf(exact);
  for (const name in headers) if (name.toLowerCase() === lowerName) return firstOf(headers[name]);
  return undefined;
}

/**
 * Methods Fetch forbids (`new Request()` throws for them): on Node 24, which builds a real
 * Request, they would fail inside the mesh; on Node 22's lazy request they would reach the
 * handler. Refused here instead, on both, with the documented 400 before the handler runs.
 */
const forbiddenMethods = new Set(['CONNECT', 'TRACE', 'TRACK']);

/** Checks the method is a token (RFC 9110) Fetch allows; anything else is a malformed event. */
export function checkMethod(method: unknown): string {
  if (typeof method !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) {
    throw badEvent('the event has no valid HTTP method');
  }
  const upper = method.toUpperCase();
  if (forbiddenMethods.has(upper)) throw badEvent(`the method ${upper} is not served`);
  return upper;
}

/** `multiValueHeaders` for a v1/ALB result: every header, with each Set-Cookie on its own. */
export function multiValueHeadersOf(response: ResponseParts): Record<string, string[]> {
  const multi: Record<string, string[]> = {};
  for (const name in response.headers) multi[name] = [response.headers[name]!];
  if (response.cookies.length > 0) multi['set-cookie'] = response.cookies;
  return multi;
}
