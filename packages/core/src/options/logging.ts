import type { LogLevel } from '../types.js';
import {
  arrayOf,
  checkObject,
  describe,
  type IssueList,
  isPlainObject,
  oneOf,
  optional,
  string,
} from './schema.js';

/** Log levels, lowest volume first. */
export const logLevels = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
] as const satisfies readonly LogLevel[];
/** A log level name (pino's names). */
export type { LogLevel };

/** Where log lines go. Anything with a `write(line)` method — defaults to standard output. */
export interface LogDestination {
  write(line: string): unknown;
}

/** Structured logging options. */
export interface LoggingOptions {
  /**
   * Minimum level. Default: Lambda's `AWS_LAMBDA_LOG_LEVEL` (Advanced Logging Controls), else
   * `LOG_LEVEL`, else `"info"`.
   */
  level?: LogLevel;
  /**
   * Extra field paths to redact: dots and brackets, `*` for any key (`"body.card.number"`,
   * `"headers['x-session']"`, `"items.*.card"`).
   * Authorization, cookies, API keys, token-like fields and the JWT token sources are always
   * redacted, inside errors too (docs/features/telemetry.md lists what).
   */
  redact?: readonly string[];
  /** Where lines are written. Default: standard output, synchronously (nothing is lost at freeze). */
  destination?: LogDestination;
  /**
   * The application's own pino logger (`pino()`, with its transports, `pino-pretty`, its own
   * redaction and serializers): `ctx.log` and the mesh's lines become its children, carrying the
   * mesh's bindings, with the mesh's redaction applied first. The level is the mesh's when one is
   * set (`level`, `LOG_LEVEL`, `AWS_LAMBDA_LOG_LEVEL`), else the logger's own. Not with `destination`.
   */
  logger?: ApplicationLogger;
}

/** What the mesh needs of an application's logger: pino's shape (a pino instance has it). */
export interface ApplicationLogger {
  level: string;
  fatal(...args: unknown[]): void;
  error(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  info(...args: unknown[]): void;
  debug(...args: unknown[]): void;
  trace(...args: unknown[]): void;
  child(bindings: Record<string, unknown>): ApplicationLogger;
  bindings?(): Record<string, unknown>;
  isLevelEnabled?(level: string): boolean;
  flush?(callback?: (error?: Error) => void): void;
}

export interface NormalizedLogging {
  readonly level: LogLevel;
  readonly redact: readonly string[];
  readonly destination: LogDestination | undefined;
  /** The application's pino, when given. */
  readonly logger: ApplicationLogger | undefined;
  /** Whether the level was set (option or environment), rather than defaulted. */
  readonly levelGiven: boolean;
  /**
   * True under Lambda's JSON log format (`AWS_LAMBDA_LOG_FORMAT=JSON`): level names are written
   * in Lambda's upper-case vocabulary so its log-level filtering understands them.
   */
  readonly upperCaseLevels: boolean;
}

export function checkLogging(
  value: unknown,
  path: string,
  issues: IssueList,
  env: NodeJS.ProcessEnv,
): NormalizedLogging | undefined {
  // Lambda's Advanced Logging Controls set AWS_LAMBDA_LOG_LEVEL; it wins over the generic variable.
  const levelVariable = env.AWS_LAMBDA_LOG_LEVEL ? 'AWS_LAMBDA_LOG_LEVEL' : 'LOG_LEVEL';
  const envLevel = env[levelVariable]?.toLowerCase();
  const fallbackLevel: LogLevel = (logLevels as readonly string[]).includes(envLevel ?? '')
    ? (envLevel as LogLevel)
    : 'info';
  if (envLevel !== undefined && envLevel !== '' && fallbackLevel !== envLevel) {
    issues.add(
      levelVariable,
      `${describe(env[levelVariable])} is not a log level; use one of ${logLevels.join(', ')}`,
    );
  }
  const upperCaseLevels = env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
  const levelGiven = envLevel !== undefined && envLevel !== '';
  const defaults = {
    level: fallbackLevel,
    redact: [],
    destination: undefined,
    logger: undefined,
    levelGiven,
    upperCaseLevels,
  };
  if (value === undefined) return defaults;
  const input = checkObject(value, path, issues, ['level', 'redact', 'destination', 'logger']);
  if (!input) return defaults;
  const destination = input.destination;
  if (
    destination !== undefined &&
    !(isPlainObjectOrStream(destination) && typeof destination.write === 'function')
  ) {
    issues.add(
      `${path}.destination`,
      'expected an object with a write(line) method, such as a writable stream',
    );
  }
  const logger = input.logger;
  const methods = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'child'] as const;
  if (
    logger !== undefined &&
    !(
      typeof logger === 'object' &&
      logger !== null &&
      methods.every((name) => typeof (logger as Record<string, unknown>)[name] === 'function')
    )
  ) {
    issues.add(`${path}.logger`, 'expected a pino logger (pino() or a child of one)');
  } else if (logger !== undefined && destination !== undefined) {
    issues.add(
      `${path}.logger`,
      'is set with destination; keep one — give the destination to your pino instead',
    );
  }
  const level = optional(input, 'level', path, issues, oneOf(logLevels));
  return {
    level: level ?? fallbackLevel,
    logger: logger as ApplicationLogger | undefined,
    levelGiven: levelGiven || level !== undefined,
    redact:
      optional(input, 'redact', path, issues, arrayOf(string('use a field path such as "body.password"'))) ??
      [],
    destination: destination as LogDestination | undefined,
    upperCaseLevels,
  };
}

function isPlainObjectOrStream(value: unknown): value is { write?: unknown } {
  return isPlainObject(value) || (typeof value === 'object' && value !== null);
}
