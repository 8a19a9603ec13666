/**
 * Errors thrown or mapped by Sidecarless.
 *
 * Every error carries a stable `code` (`SCL_ERR_…`), the HTTP `status` it maps to, whether its
 * message is safe to show to the caller (`expose`), and the library error that caused it in
 * `cause`. Messages never contain a token, cookie, key or other secret.
 *
 * `instanceof` works across two loaded copies of this package (the ESM and the CommonJS build
 * side by side), for the base class and for each of its subclasses: the check is a `Symbol.for`
 * brand, not the class identity.
 */

const brand = Symbol.for('sidecarless.error');
/** Each branded class's own name, held in a static field: stable across copies and minifiers. */
const brandName = Symbol.for('sidecarless.error-class');
/** An instance's branded class names, its own class first. */
const brandNames = Symbol.for('sidecarless.error-classes');

type BrandedClass = { readonly [brandName]?: string };

/** Options shared by every {@link SidecarlessError}. */
export interface SidecarlessErrorOptions {
  /** HTTP status this error maps to when it ends an HTTP invocation. Default 500. */
  status?: number;
  /** Whether `message` may be shown to the caller. Default: true for 4xx, false otherwise. */
  expose?: boolean;
  /** The underlying error. */
  cause?: unknown;
  /** Extra response headers (for example `WWW-Authenticate`). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * The base of every error Sidecarless raises.
 *
 * @example
 * ```ts
 * import { SidecarlessError } from '@sidecarless/core';
 *
 * throw new SidecarlessError('SCL_ERR_PAYMENT_REQUIRED', 'top up your account', { status: 402 });
 * ```
 */
export class SidecarlessError extends Error {
  /** Stable machine-readable code, for example `SCL_ERR_CONFIG`. */
  readonly code: string;
  /** HTTP status this error maps to. */
  readonly status: number;
  /** Whether the message is safe to send to the caller. */
  readonly expose: boolean;
  /** Extra response headers to send with the mapped response. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: string, message: string, options: SidecarlessErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SidecarlessError';
    this.code = code;
    this.status = options.status ?? 500;
    this.expose = options.expose ?? (this.status >= 400 && this.status < 500);
    this.headers = options.headers ?? {};
  }

  /** Brands this class; a subclass of Sidecarless's own sets its own (an application's need not). */
  static readonly [brandName]: string = 'SidecarlessError';

  get [brand](): true {
    return true;
  }

  get [brandNames](): readonly string[] {
    const names: string[] = [];
    for (
      let type = this.constructor as BrandedClass;
      type && type !== Error;
      type = Object.getPrototypeOf(type)
    ) {
      if (Object.hasOwn(type, brandName)) names.push(type[brandName]!);
    }
    return names;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` was asked about (a subclass or the base).
    return isInstance(this, value);
  }
}

function isInstance(type: BrandedClass, value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Function.prototype[Symbol.hasInstance].call(type, value)) return true;
  // A second copy of the package (ESM next to CJS) has other classes of the same names: the base
  // accepts any branded error, a branded subclass the errors that carry its name. An
  // application's own subclass (unbranded) keeps the ordinary prototype check.
  if (type === SidecarlessError) return (value as { [brand]?: unknown })[brand] === true;
  if (!Object.hasOwn(type, brandName)) return false;
  const names = (value as { [brandNames]?: unknown })[brandNames];
  return Array.isArray(names) && names.includes(type[brandName]);
}

/** One problem found in the options given to `createMesh`. */
export interface ConfigIssue {
  /** Dotted path of the offending field, for example `upstreams.inventory.timeout`. */
  path: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/**
 * Invalid configuration. Thrown by `createMesh` before anything runs; the message names every
 * offending field and the fix.
 *
 * @example
 * ```ts
 * import { ConfigError, createMesh } from '@sidecarless/core';
 *
 * try {
 *   createMesh({ service: 'orders', logging: { level: 'loud' as 'info' } });
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.issues[0]?.path); // 'logging.level'
 * }
 * ```
 */
export class ConfigError extends SidecarlessError {
  static override readonly [brandName]: string = 'ConfigError';

  /** Every problem found, in the order the fields were checked. */
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const lines = issues.map((issue) => `${issue.path}: ${issue.message}`);
    const message =
      lines.length === 1 ? lines[0]! : `${lines.length} configuration problems:\n  - ${lines.join('\n  - ')}`;
    super('SCL_ERR_CONFIG', message, { status: 500, expose: false });
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** The error codes Sidecarless's kernel raises. Features add their own. */
export const ErrorCodes = {
  config: 'SCL_ERR_CONFIG',
  internal: 'SCL_ERR_INTERNAL',
  deadlineExceeded: 'SCL_ERR_DEADLINE_EXCEEDED',
  badRequest: 'SCL_ERR_BAD_REQUEST',
  invalidHandlerResult: 'SCL_ERR_INVALID_HANDLER_RESULT',
  unknownUpstream: 'SCL_ERR_UNKNOWN_UPSTREAM',
  shuttingDown: 'SCL_ERR_SHUTTING_DOWN',
} as const;

/**
 * The 503 a request gets when the server's drain ends before its handler does: the caller may
 * retry it on another instance.
 *
 * @example
 * ```ts
 * import { shuttingDown } from '@sidecarless/core/adapter';
 *
 * const error = shuttingDown(); // status 503, code SCL_ERR_SHUTTING_DOWN, Retry-After: 1
 * ```
 */
export function shuttingDown(): SidecarlessError {
  return new SidecarlessError(
    ErrorCodes.shuttingDown,
    'the server is shutting down and cut this request before it finished; retry it',
    { status: 503, expose: true, headers: { 'retry-after': '1' } },
  );
}

/**
 * A 400 whose message is shown to the caller: for a request that cannot be read, refused before
 * the handler runs.
 *
 * @example
 * ```ts
 * import { badRequest } from '@sidecarless/core/adapter';
 *
 * throw badRequest('the event has no path'); // status 400, code SCL_ERR_BAD_REQUEST
 * ```
 */
export function badRequest(message: string, cause?: unknown): SidecarlessError {
  return new SidecarlessError(ErrorCodes.badRequest, message, { status: 400, expose: true, cause });
}

/**
 * What building a request threw, as a 400: a `SidecarlessError` as it is, anything else (Fetch
 * refusing a header or a URL) as "not valid HTTP", caused by it.
 *
 * @example
 * ```ts
 * import { asBadRequest } from '@sidecarless/core/adapter';
 *
 * try {
 *   new Request('http://h/', { headers: { 'a b': 'x' } });
 * } catch (error) {
 *   throw asBadRequest(error); // status 400, cause: Fetch's TypeError
 * }
 * ```
 */
export function asBadRequest(error: unknown): SidecarlessError {
  return error instanceof SidecarlessError
    ? error
    : badRequest('the request line or headers are not valid HTTP', error);
}

/** Type guard that also recognises errors from a second loaded copy of the package. */
export function isSidecarlessError(value: unknown): value is SidecarlessError {
  return value instanceof SidecarlessError;
}

/** The static brand key, for Sidecarless's own error subclasses in other modules. */
export { brandName as errorBrand };
