/**
 * The incoming request's headers, read without building a Fetch `Headers`.
 *
 * `new Headers` validates every name and value through WebIDL as it is appended: for the nine
 * headers of an API Gateway event that is ~2.5 µs, a quarter of a whole Lambda invocation
 * through the adapter, paid as soon as the handler reads one header (bench/lambda-overhead.bench.ts).
 * Handlers read headers (`get`, `has`) far more than they change or walk them, so reads are
 * answered from the platform's raw list, with the checks Fetch makes on what is read. `set` and
 * `delete` edit that list, as the auth stage does on every authenticated request (it removes the
 * bearer token): building the real `Headers` for them loaded Node's Fetch on the first invocation,
 * 28–35 ms of a Lambda function's cold start on Node 22 (bench/realistic-function.bench.ts).
 * Anything else (`append`, iteration, `getSetCookie`) builds the real `Headers` once and answers
 * from it from then on.
 */

import { inheritOnDemand } from './deferred-prototype.js';
import { badRequest, type SidecarlessError } from './errors.js';
import { forbiddenInValue, tokenShape } from './http-syntax.js';

function invalidHeader(name: string, cause?: unknown): SidecarlessError {
  return badRequest(`the request header "${name.slice(0, 64)}" is not valid`, cause);
}

/**
 * A `Headers` from a flat name/value list (Node's `rawHeaders` shape). A value Fetch refuses is
 * the sender's fault: a 400.
 */
export function headersFromPairs(pairs: readonly string[]): Headers {
  return appendPairs(new Headers(), pairs);
}

function appendPairs(headers: Headers, pairs: readonly string[]): Headers {
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i]!;
    try {
      headers.append(name, pairs[i + 1]!);
    } catch (error) {
      throw invalidHeader(name, error);
    }
  }
  return headers;
}

/**
 * A real `Request` carrying the sender's header fields and no others: the content type
 * `Request` guesses from a string body (`text/plain;charset=UTF-8`) is dropped when the sender
 * gave none, so a request reads the same before and after a lazy one turns real, and on every
 * runtime. A flat name/value list is appended to the request's own `Headers`: `new Request`
 * copies a `Headers` passed in its init, and skipping that copy measured ~1.2 µs cheaper for
 * nine fields without a body and ~2.9 µs with a string body (Node 24, where adapters build real
 * requests). A value Fetch refuses in the list is a 400.
 */
export function requestFromFields(
  url: string,
  init: RequestInit,
  fields: Headers | readonly string[],
): Request {
  const fromList = Array.isArray(fields);
  const request = new Request(url, fromList ? init : { ...init, headers: fields as Headers });
  const headers = request.headers;
  const guessedType =
    init.body !== undefined && init.body !== null && (fromList || !(fields as Headers).has('content-type'));
  if (guessedType) headers.delete('content-type');
  if (fromList) appendPairs(headers, fields as readonly string[]);
  return request;
}

/** Methods answered by the real `Headers`, built on first use. */
const delegatedMethods = ['append', 'getSetCookie', 'forEach', 'entries', 'keys', 'values'] as const;

interface LazyHeadersShape {
  materialize(): Headers;
}

type LazyHeadersClass = new (pairs: readonly string[]) => Headers & LazyHeadersShape;

let lazyHeadersClass: LazyHeadersClass | undefined;

function defineLazyHeaders(): LazyHeadersClass {
  class LazyHeaders {
    #pairs: readonly string[];
    #real: Headers | undefined;

    constructor(pairs: readonly string[]) {
      this.#pairs = pairs;
    }

    get(name: string): string | null {
      if (this.#real) return this.#real.get(name);
      return this.#find(headerName(name, 'get'));
    }

    has(name: string): boolean {
      if (this.#real) return this.#real.has(name);
      return this.#find(headerName(name, 'get')) !== null;
    }

    delete(name: string): void {
      if (this.#real) this.#real.delete(name);
      else this.#pairs = without(this.#pairs, headerName(name, 'delete'));
    }

    set(name: string, value: string): void {
      if (this.#real) {
        this.#real.set(name, value);
        return;
      }
      const key = headerName(name, 'set');
      // Fetch's normalisation: leading and trailing HTTP whitespace removed, then NUL, CR and LF refused.
      const normalized = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
      if (forbiddenInValue.test(normalized))
        throw new TypeError(`Headers.set: "${normalized.slice(0, 64)}" is an invalid header value.`);
      this.#pairs = [...without(this.#pairs, key), key, normalized];
    }

    /** The real `Headers`, built once. */
    materialize(): Headers {
      this.#real ??= headersFromPairs(this.#pairs);
      return this.#real;
    }

    /**
     * The value `Headers.get(key)` would give, found by scanning the list: ~0.04 µs for the
     * nine headers of an API Gateway event, where indexing them all first (with Fetch's checks
     * on every pair) cost 0.75 µs and `new Headers` 1.6 µs. Values read are checked as Fetch
     * checks them; the rest are checked if the real `Headers` is ever built.
     */
    #find(key: string): string | null {
      const pairs = this.#pairs;
      let found: string | null = null;
      for (let i = 0; i < pairs.length; i += 2) {
        const name = pairs[i]!;
        if (name !== key && (name.length !== key.length || name.toLowerCase() !== key)) continue;
        const value = trimWhitespace(String(pairs[i + 1]));
        if (forbiddenInValue.test(value)) throw invalidHeader(name);
        found = found === null ? value : `${found}${key === 'cookie' ? '; ' : ', '}${value}`;
      }
      return found;
    }

    [Symbol.iterator](): ReturnType<Headers[typeof Symbol.iterator]> {
      return this.materialize()[Symbol.iterator]();
    }

    toString(): string {
      return '[object Headers]';
    }
  }

  const proto = LazyHeaders.prototype as unknown as Record<PropertyKey, unknown>;
  for (const name of delegatedMethods) {
    Object.defineProperty(proto, name, {
      configurable: true,
      writable: true,
      value(this: LazyHeadersShape, ...args: unknown[]) {
        const real = this.materialize() as unknown as Record<string, (...inner: unknown[]) => unknown>;
        return real[name]!.apply(real, args);
      },
    });
  }
  Object.defineProperty(proto, Symbol.toStringTag, { value: 'Headers', configurable: true });
  // `instanceof Headers` without loading Fetch until something asks (deferred-prototype.ts).
  inheritOnDemand(LazyHeaders.prototype, () => Headers.prototype);
  return LazyHeaders as unknown as LazyHeadersClass;
}

/** Leading and trailing spaces and tabs removed; the regular expression only when there are any. */
function trimWhitespace(value: string): string {
  if (value === '') return value;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  if (first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09) return value;
  return value.replace(/^[\t ]+|[\t ]+$/g, '');
}

/** `name` lower-cased, or the TypeError `Headers[method]` throws for a name that is not a token. */
function headerName(name: string, method: 'get' | 'set' | 'delete'): string {
  const text = String(name);
  if (!tokenShape.test(text))
    throw new TypeError(`Headers.${method}: "${text.slice(0, 64)}" is an invalid header name.`);
  return text.toLowerCase();
}

/** The pair list without the pairs named `key` (lower case); the same list when there are none. */
function without(pairs: readonly string[], key: string): readonly string[] {
  let kept: string[] | undefined;
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i]!;
    const matches = name === key || (name.length === key.length && name.toLowerCase() === key);
    if (matches) kept ??= pairs.slice(0, i);
    else kept?.push(name, pairs[i + 1]!);
  }
  return kept ?? pairs;
}

/**
 * `Headers` over a flat name/value list, `instanceof Headers`, built for real only when
 * something other than `get`/`has` is asked of it.
 */
export function createLazyHeaders(pairs: readonly string[]): Headers {
  lazyHeadersClass ??= defineLazyHeaders();
  return new lazyHeadersClass(pairs);
}

/** The real `Headers` behind `headers`, for handing to Fetch. */
export function realHeaders(headers: Headers): Headers {
  return lazyHeadersClass !== undefined && headers instanceof lazyHeadersClass
    ? headers.materialize()
    : headers;
}
