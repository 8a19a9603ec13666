/**
 * The mesh's logger: JSON lines on standard output, written synchronously so nothing is lost
 * when Lambda freezes the process right after the response.
 *
 * It keeps pino's calling conventions and line format (the mesh used pino until the measurement
 * below; test/log-format.test.ts holds the lines pino wrote and checks this logger writes the same)
 * without loading pino: pino's import also loads its transports (worker threads), multistream,
 * redaction compiler and stream library, ~20–26 ms of every cold start bundled and more from
 * node_modules (bench/telemetry-cold-start.bench.ts) — the largest part of the mesh's own start.
 * What the mesh needs is small: levels, child bindings, printf-style messages, pino's `err`
 * serialisation, secret scrubbing and a synchronous write.
 */

import type { NormalizedOptions } from './options/index.js';
import type { ApplicationLogger, LogDestination } from './options/logging.js';
import { parsePath, Redactor } from './redact.js';
import { lineWriter } from './stdout.js';
import type { LogFn, Logger, LogLevel } from './types.js';

export type { LogFn, Logger };

type WrittenLevel = Exclude<LogLevel, 'silent'>;

const levelValues: Record<LogLevel, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

/** JSON text for `value`: `JSON.stringify`, or a safe walk when that throws (cycles, BigInt). */
function stringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return safeStringify(value, new Set());
  }
}

/** As `JSON.stringify`, with `"[Circular]"` for a reference to an ancestor and BigInts as numbers. */
function safeStringify(value: unknown, ancestors: Set<object>): string | undefined {
  if (typeof value === 'bigint') return value.toString();
  if (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  if (typeof value !== 'object' || value === null) {
    if (typeof value === 'bigint') return value.toString();
    return JSON.stringify(value);
  }
  if (ancestors.has(value)) return '"[Circular]"';
  ancestors.add(value);
  let text: string;
  if (Array.isArray(value)) {
    text = `[${value.map((item) => safeStringify(item, ancestors) ?? 'null').join(',')}]`;
  } else {
    const parts: string[] = [];
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const item = safeStringify((value as Record<string, unknown>)[key], ancestors);
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${item}`);
    }
    text = `{${parts.join(',')}}`;
  }
  ancestors.delete(value);
  return text;
}

/** A field's value as JSON, or undefined when the field is left out (functions, symbols). */
function fieldJson(value: unknown): string | undefined {
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    default:
      return stringify(value);
  }
}

interface ErrorLike {
  message: string;
  stack?: unknown;
  cause?: unknown;
  errors?: unknown;
}

const isErrorLike = (value: unknown): value is ErrorLike =>
  typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string';

/** An error's cause, when it is error-like (a VError-style `cause()` function is called). */
function causeOf(error: ErrorLike): ErrorLike | undefined {
  const cause = typeof error.cause === 'function' ? (error.cause as () => unknown)() : error.cause;
  return isErrorLike(cause) ? cause : undefined;
}

/**
 * The message with every cause's appended (`outer: inner`), as pino's `err` serialiser writes it.
 * A VError-style cause (a function) already has its message in the outer one: it adds nothing.
 */
function messageWithCauses(error: ErrorLike, seen = new Set<ErrorLike>(), skipOwn = false): string {
  const message = skipOwn ? '' : error.message;
  if (seen.has(error)) return `${message}: ...`;
  const cause = causeOf(error);
  if (!cause) return message;
  seen.add(error);
  const callable = typeof error.cause === 'function';
  return message + (callable ? '' : ': ') + messageWithCauses(cause, seen, callable);
}

/** The stack with every cause's appended after `caused by: `. */
function stackWithCauses(error: ErrorLike, seen = new Set<ErrorLike>()): string {
  const stack = typeof error.stack === 'string' ? error.stack : '';
  if (seen.has(error)) return `${stack}\ncauses have become circular...`;
  const cause = causeOf(error);
  if (!cause) return stack;
  seen.add(error);
  return `${stack}\ncaused by: ${stackWithCauses(cause, seen)}`;
}

/**
 * An error as log fields: its type (constructor name), message and stack with their causes, and
 * its own enumerable fields (`code`, …) — the shape pino's `err` serialiser gives.
 */
function serializeError(error: ErrorLike, within: Set<ErrorLike> = new Set()): Record<string, unknown> {
  within.add(error);
  const errorClass = (error as { constructor?: unknown }).constructor;
  const fields: Record<string, unknown> = {
    type: typeof errorClass === 'function' ? errorClass.name : (error as { name?: unknown }).name,
    message: messageWithCauses(error),
    stack: stackWithCauses(error),
  };
  if (Array.isArray(error.errors)) {
    fields.aggregateErrors = error.errors.map((inner) =>
      isErrorLike(inner) ? serializeError(inner, within) : inner,
    );
  }
  for (const key in error) {
    if (fields[key] !== undefined) continue;
    const value = (error as unknown as Record<string, unknown>)[key];
    if (!isErrorLike(value)) fields[key] = value;
    // Causes are in the message and stack already; an error met before would loop.
    else if (key !== 'cause' && !within.has(value)) fields[key] = serializeError(value, within);
  }
  within.delete(error);
  return fields;
}

/** `%s %d %i %f %j %o %O %%` as pino formats them; extra arguments are ignored. */
function formatMessage(format: unknown, args: readonly unknown[]): unknown {
  if (typeof format !== 'string' || args.length === 0) return format;
  let text = '';
  let copiedTo = 0;
  let next = 0;
  for (let i = 0; i < format.length - 1; i++) {
    if (format.charCodeAt(i) !== 37 /* % */) continue;
    const directive = format[i + 1];
    let replacement: string | undefined;
    if (directive === '%') {
      replacement = '%';
      next--;
    } else if (next < args.length) {
      const arg = args[next];
      if ((directive === 'd' || directive === 'f') && arg != null) replacement = String(Number(arg));
      else if (directive === 'i' && arg != null) replacement = String(Math.floor(Number(arg)));
      else if (directive === 's') replacement = String(arg);
      else if ((directive === 'j' || directive === 'o' || directive === 'O') && arg !== undefined) {
        if (typeof arg === 'string') replacement = `'${arg}'`;
        else if (typeof arg === 'function') replacement = arg.name || '<anonymous>';
        else {
          try {
            replacement = JSON.stringify(arg);
          } catch {
            replacement = '"[Circular]"';
          }
        }
      }
    }
    // Every directive takes an argument's place, even one not replaced (pino's formatter does so).
    next++;
    if (replacement === undefined) continue;
    text += format.slice(copiedTo, i) + replacement;
    copiedTo = i + 2;
    i++;
  }
  return copiedTo === 0 ? format : text + format.slice(copiedTo);
}

/** What every logger of one mesh shares. */
interface LoggerShared {
  readonly write: (line: string) => void;
  readonly flush: (() => unknown) | undefined;
  /** `{"level":"info","time":"` for each level, in the configured case. */
  readonly lineStarts: Readonly<Record<WrittenLevel, string>>;
  readonly redactor: Redactor;
}

class MeshLogger implements Logger {
  readonly #shared: LoggerShared;
  /** The bindings as JSON fields, each with its leading comma: written as they are. */
  readonly #bindingsJson: string;
  readonly #bindings: Record<string, unknown>;
  #levelValue: number;
  #level: LogLevel;

  constructor(
    shared: LoggerShared,
    bindings: Record<string, unknown>,
    bindingsJson: string,
    level: LogLevel,
  ) {
    this.#shared = shared;
    this.#bindings = bindings;
    this.#bindingsJson = bindingsJson;
    this.#level = level;
    this.#levelValue = levelValues[level];
  }

  get level(): LogLevel {
    return this.#level;
  }

  set level(level: LogLevel) {
    if (!Object.hasOwn(levelValues, level)) throw new TypeError(`unknown log level ${JSON.stringify(level)}`);
    this.#level = level;
    this.#levelValue = levelValues[level];
  }

  fatal(first: unknown, ...rest: unknown[]): void {
    this.#log('fatal', first, rest);
  }

  error(first: unknown, ...rest: unknown[]): void {
    this.#log('error', first, rest);
  }

  warn(first: unknown, ...rest: unknown[]): void {
    this.#log('warn', first, rest);
  }

  info(first: unknown, ...rest: unknown[]): void {
    this.#log('info', first, rest);
  }

  debug(first: unknown, ...rest: unknown[]): void {
    this.#log('debug', first, rest);
  }

  trace(first: unknown, ...rest: unknown[]): void {
    this.#log('trace', first, rest);
  }

  silent(_first?: unknown, ..._rest: unknown[]): void {}

  child(bindings: Record<string, unknown>): Logger {
    // An `err` binding is serialised as on a line (pino's serialisers apply to bindings too).
    const err = bindings.err;
    const fields = this.#prepare(
      isErrorLike(err) ? { ...bindings, err: serializeError(err) } : bindings,
    ) as Record<string, unknown>;
    let json = this.#bindingsJson;
    for (const key in fields) {
      if (!Object.hasOwn(fields, key)) continue;
      const value = fieldJson(fields[key]);
      if (value !== undefined) json += `,${JSON.stringify(key)}:${value}`;
    }
    return new MeshLogger(this.#shared, { ...this.#bindings, ...fields }, json, this.#level);
  }

  bindings(): Record<string, unknown> {
    return { ...this.#bindings };
  }

  isLevelEnabled(level: LogLevel): boolean {
    // As pino: 'silent' ranks above every level, so it is "enabled" at any level.
    const value = levelValues[level];
    return value !== undefined && value >= this.#levelValue;
  }

  flush(callback?: (error?: Error) => void): void {
    try {
      this.#shared.flush?.();
      callback?.();
    } catch (error) {
      if (!callback) throw error;
      callback(error as Error);
    }
  }

  /** Secrets and the configured paths censored (redact.ts). */
  #prepare(object: unknown): unknown {
    return this.#shared.redactor.redact(object);
  }

  #log(level: WrittenLevel, first: unknown, rest: unknown[]): void {
    if (levelValues[level] < this.#levelValue) return;
    let fields: object | undefined;
    let message: unknown;
    if (typeof first === 'object' && first !== null) {
      if (first instanceof Error) {
        fields = { err: first };
        message = rest.length > 0 ? formatMessage(rest[0], rest.slice(1)) : first.message;
      } else {
        fields = first;
        message = formatMessage(rest[0], rest.slice(1));
        const record = first as Record<string, unknown>;
        if (message === undefined && record.msg === undefined && isErrorLike(record.err))
          message = record.err.message;
      }
    } else if (first === null) {
      message = rest.length === 0 ? null : formatMessage(rest[0], rest.slice(1));
    } else {
      message = formatMessage(first === undefined ? rest.shift() : first, rest);
    }
    let line = this.#shared.lineStarts[level] + new Date().toISOString() + '"' + this.#bindingsJson;
    if (fields !== undefined) {
      // Serialised first, then censored: the error's own fields are what may hold secrets
      // (an HTTP client's error carries the request's headers), as pino redacts after serialisers.
      const err = (fields as { err?: unknown }).err;
      if (isErrorLike(err)) fields = { ...fields, err: serializeError(err) };
      const prepared = this.#prepare(fields) as Record<string, unknown>;
      for (const key in prepared) {
        if (!Object.hasOwn(prepared, key)) continue;
        const json = fieldJson(prepared[key]);
        if (json !== undefined) line += `,${JSON.stringify(key)}:${json}`;
      }
    }
    const messageJson = typeof message === 'function' ? undefined : fieldJson(message);
    if (messageJson !== undefined) line += `,"msg":${messageJson}`;
    this.#shared.write(`${line}}\n`);
  }
}

/**
 * The mesh's lines through the application's pino (`logging.logger`): each mesh logger is a
 * child of it. The mesh's redaction runs first, on the merging object and on bindings (errors
 * serialised first, as the built-in writer does), so the mesh's secrets never reach the
 * application's pino whatever its own redaction says; its serializers, formatters and transports
 * do the rest.
 */
class ApplicationLoggerAdapter implements Logger {
  readonly #inner: ApplicationLogger;
  readonly #redactor: Redactor;

  constructor(inner: ApplicationLogger, redactor: Redactor) {
    this.#inner = inner;
    this.#redactor = redactor;
  }

  get level(): LogLevel {
    return this.#inner.level as LogLevel;
  }

  set level(level: LogLevel) {
    this.#inner.level = level;
  }

  readonly fatal: LogFn = (first: unknown, ...rest: unknown[]) => this.#log('fatal', first, rest);
  readonly error: LogFn = (first: unknown, ...rest: unknown[]) => this.#log('error', first, rest);
  readonly warn: LogFn = (first: unknown, ...rest: unknown[]) => this.#log('warn', first, rest);
  readonly info: LogFn = (first: unknown, ...rest: unknown[]) => this.#log('info', first, rest);
  readonly debug: LogFn = (first: unknown, ...rest: unknown[]) => this.#log('debug', first, rest);
  readonly trace: LogFn = (first: unknown, ...rest: unknown[]) => this.#log('trace', first, rest);
  readonly silent: LogFn = () => {};

  child(bindings: Record<string, unknown>): Logger {
    return new ApplicationLoggerAdapter(this.#inner.child(this.#censor(bindings)), this.#redactor);
  }

  bindings(): Record<string, unknown> {
    return this.#inner.bindings?.() ?? {};
  }

  isLevelEnabled(level: LogLevel): boolean {
    return this.#inner.isLevelEnabled?.(level) ?? levelValues[level] >= levelValues[this.level];
  }

  flush(callback?: (error?: Error) => void): void {
    if (this.#inner.flush) this.#inner.flush(callback);
    else callback?.();
  }

  #censor(fields: Record<string, unknown>): Record<string, unknown> {
    const err = fields.err;
    if (!isErrorLike(err)) return this.#redactor.redact(fields) as Record<string, unknown>;
    const censored = this.#redactor.redact({ ...fields, err: serializeError(err) }) as Record<
      string,
      unknown
    >;
    // The censored fields keep the error's prototype, so pino's own err serializer (which names
    // the type from the constructor) still sees the error it was.
    if (typeof censored.err === 'object' && censored.err !== null)
      Object.setPrototypeOf(censored.err, Object.getPrototypeOf(err));
    return censored;
  }

  #log(level: WrittenLevel, first: unknown, rest: unknown[]): void {
    const inner = this.#inner;
    if (typeof first === 'object' && first !== null) {
      // pino's shape: an error alone becomes { err } with its message as the message.
      if (first instanceof Error) {
        const message = rest.length > 0 ? rest : [first.message];
        inner[level](this.#censor({ err: first }), ...message);
      } else inner[level](this.#censor(first as Record<string, unknown>), ...rest);
      return;
    }
    inner[level](first, ...rest);
  }
}

/** What the mesh's logger censors: the features' secrets and `logging.redact`. */
export function loggerRedactor(options: NormalizedOptions): Redactor {
  return new Redactor({
    fields: [...options.secrets.fields],
    params: [...options.secrets.params],
    paths: options.logging.redact.map(parsePath).filter((keys) => keys.length > 0),
  });
}

/**
 * Builds the mesh's root logger. Runs once per mesh, at `createMesh`; the mesh keeps `redactor`
 * to widen it when a reconfiguration adds token sources.
 */
export function createLogger(options: NormalizedOptions, redactor = loggerRedactor(options)): Logger {
  const { logging } = options;
  if (logging.logger) {
    const base: Record<string, string> = { service: options.service };
    if (options.version !== undefined) base.version = options.version;
    const root = new ApplicationLoggerAdapter(logging.logger.child(base), redactor);
    if (logging.levelGiven) root.level = logging.level;
    return root;
  }
  const destination: LogDestination | undefined = logging.destination;
  const label = (level: string) => (logging.upperCaseLevels ? level.toUpperCase() : level);
  const lineStarts = {} as Record<WrittenLevel, string>;
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) {
    // ISO-8601 UTC with milliseconds and `Z`: the `time_format %Y-%m-%dT%H:%M:%S.%NZ` log
    // pipelines (Fluentd, CloudWatch Insights) parse.
    lineStarts[level] = `{"level":"${label(level)}","time":"`;
  }
  const shared: LoggerShared = {
    write: lineWriter(destination),
    flush:
      destination && typeof (destination as { flush?: unknown }).flush === 'function'
        ? () => (destination as unknown as { flush(): unknown }).flush()
        : undefined,
    lineStarts,
    redactor,
  };
  const base: Record<string, string> = { service: options.service };
  if (options.version !== undefined) base.version = options.version;
  const root = new MeshLogger(shared, {}, '', logging.level);
  return root.child(base);
}
