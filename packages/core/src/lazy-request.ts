/**
 * A `Request` that costs almost nothing until the handler needs a real one.
 *
 * Building a Fetch `Request` per invocation is the biggest avoidable cost of an adapter: on
 * Node 22 `new Request(url, { method, headers })` costs ~10 µs and with a string body ~56 µs
 * (its body becomes a web stream and it allocates an `AbortController`), against ~2.6 µs for a
 * whole bare Lambda handler (bench/lambda-overhead.bench.ts). Most handlers read the URL, the
 * method, a header or two and the body as text or JSON.
 *
 * {@link createLazyRequest} returns an object that is `instanceof Request` and answers `url`,
 * `method`, `headers` (read from the platform's list, a real `Headers` once changed or walked),
 * `text()`, `json()`,
 * `arrayBuffer()` and `bytes()` straight from the platform's data. Anything else (`body`,
 * `signal`, `blob()`, `formData()`, `clone()`, the other getters) builds the real `Request`
 * once and delegates to it from then on.
 *
 * Passing the object to `fetch()` or `new Request()` works on Node 22 (the undici there reads
 * its state through symbols, which the lazy object forwards to the real request). Where the
 * runtime's `Request` checks a private brand instead (Node 24), the lazy object would be
 * rejected there, so {@link createLazyRequest} detects that once and builds real requests.
 */
import { inheritOnDemand } from './deferred-prototype.js';
import { heldBytes, heldText } from './held-body.js';
import { createLazyHeaders, realHeaders, requestFromFields } from './lazy-headers.js';

/** What an adapter knows about the incoming request. */
export interface LazyRequestInit {
  /** The absolute URL, already encoded. */
  readonly url: string;
  /** Upper-case method. */
  readonly method: string;
  /**
   * Builds the headers when the handler first reads them: a `Headers`, or a flat name/value
   * list in the shape of Node's `rawHeaders`, which `get`/`has` then read without building a
   * `Headers` at all (see lazy-headers.ts). A name or value Fetch refuses is a 400.
   */
  readonly headers: () => Headers | readonly string[];
  /** The body as the platform gave it (decoded from base64 already), or null. */
  readonly body: string | Uint8Array | null;
}

interface LazyRequestShape {
  materialize(): Request;
}

type LazyRequestClass = new (init: LazyRequestInit) => Request & LazyRequestShape;

/** The class, `null` when the runtime's `Request` rejects it, `undefined` before the first call. */
let lazyRequestClass: LazyRequestClass | null | undefined;

function bodyUnusable(): TypeError {
  return new TypeError('Body is unusable: Body has already been read');
}

/**
 * Builds the class on first use: touching the global `Request` loads Node's whole Fetch
 * implementation (45–57 ms, PERF-NOTES), which belongs to the first invocation, not to import.
 */
function defineLazyRequest(): LazyRequestClass {
  class LazyRequest {
    readonly #init: LazyRequestInit;
    #headers: Headers | undefined;
    #real: Request | undefined;
    #used = false;

    constructor(init: LazyRequestInit) {
      this.#init = init;
    }

    get url(): string {
      return this.#real ? this.#real.url : this.#init.url;
    }

    get method(): string {
      return this.#real ? this.#real.method : this.#init.method;
    }

    get headers(): Headers {
      if (this.#real) return this.#real.headers;
      if (this.#headers === undefined) {
        const built = this.#init.headers();
        this.#headers = Array.isArray(built) ? createLazyHeaders(built) : (built as Headers);
      }
      return this.#headers;
    }

    get bodyUsed(): boolean {
      return this.#real ? this.#real.bodyUsed : this.#used;
    }

    /** The real `Request`, built once. */
    materialize(): Request {
      if (this.#real) return this.#real;
      const { method, url } = this.#init;
      const carriesBody = method !== 'GET' && method !== 'HEAD' && this.#init.body !== null;
      const real = requestFromFields(
        url,
        (carriesBody ? { method, body: this.#init.body, duplex: 'half' } : { method }) as RequestInit,
        realHeaders(this.headers),
      );
      if (this.#used && real.body) {
        // The body was read through a fast path: the real request must say so too.
        void real.arrayBuffer().catch(() => {});
      }
      this.#real = real;
      return real;
    }

    #takeBody(): string | Uint8Array {
      const { method, body } = this.#init;
      // A Request without a body reads as empty any number of times and never reports bodyUsed.
      if (body === null || method === 'GET' || method === 'HEAD') return '';
      if (this.#used) throw bodyUnusable();
      this.#used = true;
      return body;
    }

    async text(): Promise<string> {
      if (this.#real) return this.#real.text();
      return heldText(this.#takeBody());
    }

    async json(): Promise<unknown> {
      if (this.#real) return this.#real.json();
      return JSON.parse(await this.text());
    }

    async bytes(): Promise<Uint8Array<ArrayBuffer>> {
      if (this.#real) return new Uint8Array(await this.#real.arrayBuffer());
      return heldBytes(this.#takeBody());
    }

    async arrayBuffer(): Promise<ArrayBuffer> {
      if (this.#real) return this.#real.arrayBuffer();
      return (await this.bytes()).buffer;
    }

    clone(): Request {
      if (this.#used && !this.#real) throw bodyUnusable();
      return this.materialize().clone();
    }

    toString(): string {
      return '[object Request]';
    }
  }

  const proto = LazyRequest.prototype as unknown as Record<PropertyKey, unknown>;
  // Everything the fast paths do not answer goes to the real request.
  const delegatedGetters = [
    'body',
    'signal',
    'cache',
    'credentials',
    'destination',
    'duplex',
    'integrity',
    'keepalive',
    'mode',
    'redirect',
    'referrer',
    'referrerPolicy',
  ];
  for (const name of delegatedGetters) {
    Object.defineProperty(proto, name, {
      configurable: true,
      get(this: LazyRequestShape) {
        return (this.materialize() as unknown as Record<string, unknown>)[name];
      },
    });
  }
  for (const name of ['blob', 'formData']) {
    Object.defineProperty(proto, name, {
      configurable: true,
      writable: true,
      value(this: LazyRequestShape) {
        const real = this.materialize() as unknown as Record<string, () => unknown>;
        return real[name]!.call(real);
      },
    });
  }
  Object.defineProperty(proto, Symbol.toStringTag, { value: 'Request', configurable: true });
  // `instanceof Request` without loading Fetch until something asks (deferred-prototype.ts).
  // `fetch(lazy)` and `new Request(lazy)` check `instanceof` first, which links the prototype.
  inheritOnDemand(LazyRequest.prototype, () => Request.prototype, {
    onLink: () => {
      // Node 22's undici keeps a request's state under symbols; forwarding them lets `fetch(lazy)`
      // and `new Request(lazy)` read the real request's state.
      for (const symbol of Object.getOwnPropertySymbols(new Request('http://localhost/'))) {
        Object.defineProperty(proto, symbol, {
          configurable: true,
          get(this: LazyRequestShape) {
            return (this.materialize() as unknown as Record<symbol, unknown>)[symbol];
          },
        });
      }
    },
  });
  return LazyRequest as unknown as LazyRequestClass;
}

/**
 * Creates a `Request` whose costly parts are built only when touched (see the module comment).
 *
 * @example
 * ```ts
 * import { createLazyRequest } from '@sidecarless/core/adapter';
 *
 * const request = createLazyRequest({
 *   url: 'https://example.com/orders?id=7',
 *   method: 'POST',
 *   headers: () => new Headers({ 'content-type': 'application/json' }),
 *   body: '{"qty":1}',
 * });
 * request instanceof Request; // true
 * await request.json(); // { qty: 1 }, without a web stream
 * ```
 */
export function createLazyRequest(init: LazyRequestInit): Request {
  lazyRequestClass ??= runtimeAcceptsLazyRequests() ? defineLazyRequest() : null;
  if (lazyRequestClass === null) return realRequest(init);
  return new lazyRequestClass(init);
}

/**
 * Whether this runtime's `Request` constructor (and so `fetch`) accepts the lazy object as its
 * input: a `Request` that `fetch(request)` or `new Request(request)` rejects is not a standard
 * `Request`. Node's Fetch is undici: up to undici 6 (Node 22) a request's state lives under
 * symbols, which the lazy object forwards to its real request; from undici 7 (Node 24) it lives
 * in private fields, which only the real constructor can make. Decided from the version rather
 * than by probing with a real `Request`, which would load Fetch (deferred-prototype.ts); the
 * tests pass a lazy request to `fetch` and `new Request` on both runtimes.
 */
function runtimeAcceptsLazyRequests(): boolean {
  const undiciMajor = Number(process.versions.undici?.split('.')[0]);
  return Number.isInteger(undiciMajor) && undiciMajor < 7;
}

function realRequest(init: LazyRequestInit): Request {
  const body = init.method === 'GET' || init.method === 'HEAD' ? null : init.body;
  return requestFromFields(init.url, { method: init.method, body }, init.headers());
}

/**
 * True when `request` was made by {@link createLazyRequest}.
 *
 * @example
 * ```ts
 * import { createLazyRequest, isLazyRequest } from '@sidecarless/core/adapter';
 *
 * const request = createLazyRequest({ url: 'https://example.com/', method: 'GET', headers: () => new Headers(), body: null });
 * isLazyRequest(request); // true
 * isLazyRequest(request.clone()); // false: a clone is a real Request
 * ```
 */
export function isLazyRequest(request: Request): boolean {
  return lazyRequestClass !== undefined && lazyRequestClass !== null && request instanceof lazyRequestClass;
}
