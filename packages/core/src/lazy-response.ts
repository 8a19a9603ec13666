/**
 * `LazyResponse`: a standard `Response` whose web stream is built only if something reads the
 * body as a stream.
 *
 * Node's `Response` builds a `ReadableStream` (and validates its headers through WebIDL) the
 * moment it is constructed: `Response.json(data)` costs 3–5 µs on Node 22 and 24, more than the
 * whole rest of a Lambda invocation through the adapter (bench/lambda-overhead.bench.ts), and an
 * adapter then has to read that stream back. A handler answers with a string, bytes or JSON in
 * almost every case, and the adapters only need the status, the header fields and that value —
 * so `LazyResponse` keeps exactly those, hands them to the adapter as they are, and builds the
 * real `Response` the first time anything else is asked of it (its `body` stream, `blob()`,
 * `formData()`, a body of another kind). It is `instanceof Response` and answers every member a
 * `Response` has.
 */

import { inheritOnDemand } from './deferred-prototype.js';
import { heldBytes, heldText } from './held-body.js';
import { forbiddenInValue, tokenShape } from './http-syntax.js';

/** What an adapter writes for a response whose body is held in memory. */
export interface PlainResponse {
  readonly status: number;
  /** Header fields by lower-case name, `set-cookie` excepted; the adapter may add to them. */
  readonly headers: Record<string, string>;
  /** Every `Set-Cookie` value, in order, or undefined when there is none. */
  readonly cookies: string[] | undefined;
  /** The whole body, or null for none. */
  readonly body: string | Uint8Array | null;
}

type HeadersInit = NonNullable<ResponseInit['headers']>;
type BodyInit = NonNullable<ConstructorParameters<typeof Response>[0]>;

const reasonShape = /^[\t\x20-\x7e\x80-\xff]*$/;
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

function headerTypeError(name: string): TypeError {
  return new TypeError(`Headers.append: "${name.slice(0, 64)}" is an invalid header name or value.`);
}

function bodyUnusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read');
}

/** Header fields as adapters want them: lower-case names, duplicates joined, cookies apart. */
class HeaderFields {
  readonly fields: Record<string, string> = {};
  cookies: string[] | undefined;

  add(name: string, value: unknown): void {
    const text = String(value).trim();
    if (!tokenShape.test(name) || forbiddenInValue.test(text)) throw headerTypeError(name);
    const lower = name.toLowerCase();
    if (lower === 'set-cookie') {
      if (this.cookies) this.cookies.push(text);
      else this.cookies = [text];
      return;
    }
    const existing = this.fields[lower];
    this.fields[lower] = existing === undefined ? text : `${existing}, ${text}`;
  }

  has(name: string): boolean {
    return name === 'set-cookie' ? this.cookies !== undefined : this.fields[name] !== undefined;
  }

  toHeaders(): Headers {
    const headers = new Headers(this.fields);
    if (this.cookies) for (const cookie of this.cookies) headers.append('set-cookie', cookie);
    return headers;
  }
}

/** An object literal (or one without a prototype) that is not iterable: a header record. */
function isPlainRecord(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return (
    (proto === Object.prototype || proto === null) &&
    typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function'
  );
}

/** The fields of `init.headers`, or undefined when it is a `Headers` object (kept as one). */
function fieldsOf(init: HeadersInit | undefined): HeaderFields | Headers {
  const fields = new HeaderFields();
  if (init === undefined || init === null) return fields;
  // The usual `{ 'content-type': … }` is never a `Headers`, and asking `instanceof Headers` of it
  // would load Node's Fetch (deferred-prototype.ts): it goes on to the record loop below.
  if (!isPlainRecord(init) && init instanceof Headers) return new Headers(init);
  if (typeof (init as Iterable<unknown>)[Symbol.iterator] === 'function') {
    for (const pair of init as Iterable<readonly unknown[]>) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError('Headers constructor: expected name/value pair to be length 2.');
      }
      fields.add(String(pair[0]), pair[1]);
    }
    return fields;
  }
  if (typeof init !== 'object') throw new TypeError('Headers constructor: expected a record or a sequence.');
  for (const name of Object.keys(init)) fields.add(name, (init as Record<string, unknown>)[name]);
  return fields;
}

type HeldBody = string | Uint8Array | null;

const textType = 'text/plain;charset=UTF-8';

/** The body kept as it is, or undefined when only a real `Response` can hold it. */
const noBody = { value: null };

function holdBody(body: unknown): { value: HeldBody; contentType?: string } | undefined {
  if (body === undefined || body === null) return noBody;
  if (typeof body === 'string') return { value: body, contentType: textType };
  // A copy, as Fetch takes one: the caller may reuse its buffer after answering.
  if (body instanceof Uint8Array) return { value: new Uint8Array(body) };
  if (body instanceof ArrayBuffer) return { value: new Uint8Array(body.slice(0)) };
  if (ArrayBuffer.isView(body)) {
    return { value: new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)) };
  }
  if (body instanceof URLSearchParams) {
    return { value: body.toString(), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' };
  }
  return undefined;
}

function checkStatus(status: number, statusText: string, hasBody: boolean): void {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive (got ${status}).`);
  }
  if (!reasonShape.test(statusText)) throw new TypeError('Invalid statusText');
  if (hasBody && nullBodyStatuses.has(status)) {
    throw new TypeError(`Response constructor: Invalid response status code ${status}`);
  }
}

/** Reaches a response's private parts; set by the class's static block. */
let takePlainOf: (response: object) => PlainResponse | undefined;
/** True for a `LazyResponse`, by its private brand (no prototype walk). */
let isLazy: (value: object) => boolean;

/**
 * Set by `LazyResponse.json` for the one constructor call it makes, so that the default content
 * type is JSON's without copying the caller's headers to add it.
 */
let jsonBodyPending = false;

/**
 * Makes `LazyResponse` a `Response` for `instanceof` and for code that walks the prototype,
 * without reading the global `Response` until something asks: that loads Node's whole Fetch
 * implementation, which neither an import of the kernel nor a handler that only answers with
 * `LazyResponse` should pay for (deferred-prototype.ts).
 */
function inheritFromResponse(): void {
  const proto = LazyResponse.prototype as unknown as Record<PropertyKey, unknown>;
  // Every promise resolved with a response looks up its `then` (three times per invocation on
  // the Lambda path); answered here, that lookup never reaches the on-demand stand-in, whose
  // trap measured ~0.4 µs of a ~3 µs invocation. `undefined`, not enumerable: the response is
  // not a thenable, as a Response is not; only `'then' in response` tells the difference.
  Object.defineProperty(proto, 'then', {
    value: undefined,
    configurable: true,
    writable: false,
    enumerable: false,
  });
  inheritOnDemand(proto, () => Response.prototype, {
    onLink: () => {
      // Node 22's Fetch keeps a response's state under symbols; forwarding them lets Fetch's own
      // code (`new Response(lazy.body, lazy)`, structured helpers) read the real response's state.
      for (const symbol of Object.getOwnPropertySymbols(new Response(null))) {
        Object.defineProperty(proto, symbol, {
          configurable: true,
          get(this: LazyResponse) {
            return (this.materialize() as unknown as Record<symbol, unknown>)[symbol];
          },
        });
      }
    },
  });
  // The class itself inherits from `Response` the same way (it defines every static it has).
  inheritOnDemand(LazyResponse, () => Response, { base: Function.prototype });
}

/**
 * A `Response` that skips building a web stream: the same constructor and `json()` static,
 * `instanceof Response`, every property and method, but the body is kept as the string or
 * bytes it was given and handed to the adapter as is. Use it where a handler's answer is hot:
 * `LazyResponse.json(data)` costs ~0.3 µs where `Response.json(data)` costs 3–5 µs, and the
 * adapter then sends it without reading a stream.
 *
 * The real `Response` is built, once, the first time its `body` stream, `blob()`, `formData()`
 * or `clone()` after a header change is needed; a body that is neither text nor bytes (a
 * stream, a Blob, FormData) builds it at once.
 *
 * @example
 * ```ts
 * import { createMesh, LazyResponse } from '@sidecarless/core';
 * import { invoke } from '@sidecarless/core/local';
 *
 * const mesh = createMesh({ service: 'orders' });
 * const response = await invoke(mesh, async (request) => {
 *   const order = (await request.json()) as { sku: string };
 *   return LazyResponse.json({ accepted: order.sku }, { status: 201 });
 * }, new Request('http://localhost/orders', { method: 'POST', body: '{"sku":"A-1"}' }));
 * console.log(response.status, await response.json()); // 201 { accepted: 'A-1' }
 * ```
 */
export class LazyResponse {
  readonly #status: number;
  readonly #statusText: string;
  #fields: HeaderFields | undefined;
  #headers: Headers | undefined;
  #body: HeldBody;
  #used = false;
  #real: Response | undefined;

  constructor(body?: BodyInit | null, init: ResponseInit = {}) {
    const status = init.status ?? 200;
    const statusText = init.statusText === undefined ? '' : String(init.statusText);
    const held = holdBody(body);
    const defaultType = jsonBodyPending ? 'application/json' : held?.contentType;
    jsonBodyPending = false;
    checkStatus(status, statusText, body !== undefined && body !== null);
    this.#status = status;
    this.#statusText = statusText;
    const fields = fieldsOf(init.headers);
    if (held === undefined) {
      // A stream, a Blob, FormData: only the real thing can hold it.
      this.#body = null;
      this.#real = new Response(body, {
        status,
        statusText,
        headers: fields instanceof HeaderFields ? fields.toHeaders() : fields,
      });
      return;
    }
    this.#body = held.value;
    if (fields instanceof HeaderFields) {
      if (defaultType && !fields.has('content-type')) fields.fields['content-type'] = defaultType;
      this.#fields = fields;
    } else {
      if (defaultType && !fields.has('content-type')) fields.set('content-type', defaultType);
      this.#headers = fields;
    }
  }

  /**
   * Like `Response.json`: `data` as JSON with `content-type: application/json`.
   *
   * @example
   * ```ts
   * import { LazyResponse } from '@sidecarless/core';
   *
   * const created = LazyResponse.json({ id: 42 }, { status: 201, headers: { location: '/orders/42' } });
   * ```
   */
  static json(data: unknown, init: ResponseInit = {}): Response {
    const text = JSON.stringify(data);
    if (text === undefined) throw new TypeError('Value is not JSON serializable');
    jsonBodyPending = true;
    try {
      return new LazyResponse(text, init) as unknown as Response;
    } finally {
      jsonBodyPending = false;
    }
  }

  /** Same as `Response.redirect` (a real `Response`). */
  static redirect(url: string | URL, status?: number): Response {
    return Response.redirect(url, status as Parameters<typeof Response.redirect>[1]);
  }

  /** Same as `Response.error` (a real `Response`). */
  static error(): Response {
    return Response.error();
  }

  get status(): number {
    return this.#status;
  }

  get ok(): boolean {
    return this.#status >= 200 && this.#status <= 299;
  }

  get statusText(): string {
    return this.#statusText;
  }

  get type(): Response['type'] {
    return 'default';
  }

  get url(): string {
    return '';
  }

  get redirected(): boolean {
    return false;
  }

  get headers(): Headers {
    if (this.#real) return this.#real.headers;
    if (this.#headers === undefined) {
      this.#headers = this.#fields!.toHeaders();
      this.#fields = undefined;
    }
    return this.#headers;
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#real === undefined && this.#body === null) return null;
    return this.materialize().body;
  }

  get bodyUsed(): boolean {
    return this.#real ? this.#real.bodyUsed : this.#used;
  }

  /** The real `Response`, built once; from then on every member answers from it. @internal */
  materialize(): Response {
    if (this.#real) return this.#real;
    const real = new Response(this.#used ? null : this.#body, {
      status: this.#status,
      statusText: this.#statusText,
      headers: this.headers,
    });
    this.#real = real;
    return real;
  }

  #take(): HeldBody {
    if (this.#used) throw bodyUnusable();
    // An empty body can be read again and again, as Fetch allows for a null body.
    if (this.#body === null) return null;
    this.#used = true;
    return this.#body;
  }

  async text(): Promise<string> {
    if (this.#real) return this.#real.text();
    const body = this.#take();
    return body === null ? '' : heldText(body);
  }

  async json(): Promise<unknown> {
    if (this.#real) return this.#real.json();
    return JSON.parse(await this.text());
  }

  async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#real) return new Uint8Array(await this.#real.arrayBuffer());
    const body = this.#take();
    return body === null ? new Uint8Array(0) : heldBytes(body);
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    if (this.#real) return this.#real.arrayBuffer();
    return (await this.bytes()).buffer;
  }

  blob(): Promise<Blob> {
    return this.materialize().blob();
  }

  formData(): Promise<FormData> {
    return this.materialize().formData() as Promise<FormData>;
  }

  clone(): Response {
    if (this.#real) return this.#real.clone();
    if (this.#used) throw new TypeError('Response.clone: Body has already been consumed.');
    const copy = new LazyResponse(this.#body, {
      status: this.#status,
      statusText: this.#statusText,
      headers: this.#headers ?? this.#fields!.toHeaders(),
    });
    return copy as unknown as Response;
  }

  get [Symbol.toStringTag](): string {
    return 'Response';
  }

  static {
    isLazy = (value) => #status in value;
    takePlainOf = (response) => (#status in response ? (response as LazyResponse).#takePlain() : undefined);
  }

  #takePlain(): PlainResponse | undefined {
    if (this.#real || this.#used) return undefined;
    const body = this.#body;
    if (body !== null) this.#used = true;
    if (this.#fields) {
      return { status: this.#status, headers: this.#fields.fields, cookies: this.#fields.cookies, body };
    }
    const headers: Record<string, string> = {};
    let cookies: string[] | undefined;
    for (const [name, value] of this.#headers!) {
      if (name !== 'set-cookie') headers[name] = value;
      else if (cookies) cookies.push(value);
      else cookies = [value];
    }
    return { status: this.#status, headers, cookies, body };
  }
}

inheritFromResponse();

/**
 * For adapters: the status, header fields and in-memory body of a {@link LazyResponse} nobody
 * has read yet, taking its body (it reads as used afterwards); undefined for any other response,
 * which the adapter reads the standard way.
 *
 * @example
 * ```ts
 * import { LazyResponse } from '@sidecarless/core';
 * import { takePlainResponse } from '@sidecarless/core/adapter';
 *
 * const plain = takePlainResponse(LazyResponse.json({ ok: true }));
 * console.log(plain?.status, plain?.headers['content-type'], plain?.body); // 200 application/json {"ok":true}
 * ```
 */
export function takePlainResponse(response: Response): PlainResponse | undefined {
  return takePlainOf(response);
}

/** True when `value` is a {@link LazyResponse}: a brand check that loads nothing. */
export function isLazyResponse(value: unknown): value is Response {
  return typeof value === 'object' && value !== null && isLazy(value);
}
