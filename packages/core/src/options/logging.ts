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
}

export interface NormalizedLogging {
  readonly level: LogLevel;
  readonly redact: readonly string[];
  readonly destination: LogDestination | undefined;
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
  const defaults = { level: fallbackLevel, redact: [], destination: undefined, upperCaseLevels };
  if (value === undefined) return defaults;
  const input = checkObject(value, path, issues, ['level', 'redact', 'destination']);
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
  return {
    level: optional(input, 'level', path, issues, oneOf(logLevels)) ?? fallbackLevel,
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
