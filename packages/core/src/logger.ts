/**
 * The mesh's logger: pino, JSON lines on standard output, written synchronously so nothing is
 * lost when Lambda freezes the process right after the response.
 */
import { type Logger as PinoLogger, pino } from 'pino';
import type { NormalizedOptions } from './options/index.js';

/** The structured logger on `mesh.log` and `ctx.log` (a pino logger). */
export type Logger = PinoLogger;

/**
 * Field names that hold secrets. They are redacted at the top level, one level down
 * (`headers.authorization`) and two levels down (`req.headers.cookie`), whatever the options say.
 */
const secretFields = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-amz-security-token',
  'token',
  'accessToken',
  'access_token',
  'idToken',
  'id_token',
  'refreshToken',
  'refresh_token',
  'password',
  'secret',
  'clientSecret',
  'client_secret',
  'apiKey',
  'api_key',
  'privateKey',
  'private_key',
];

function redactionPaths(extra: readonly string[]): string[] {
  const paths: string[] = [];
  for (const field of secretFields) {
    const key = /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
    const member = key.startsWith('[') ? key : `.${key}`;
    paths.push(key, `*${member}`, `*.*${member}`);
  }
  return [...paths, ...extra];
}

/** Builds the mesh's root logger. Runs once per mesh, at `createMesh`. */
export function createLogger(options: NormalizedOptions): Logger {
  const { logging } = options;
  const base: Record<string, string> = { service: options.service };
  if (options.version !== undefined) base.version = options.version;
  const destination = logging.destination ?? pino.destination({ fd: 1, sync: true });
  return pino(
    {
      level: logging.level,
      base,
      // ISO-8601 UTC with milliseconds and `Z`, the `time_format %Y-%m-%dT%H:%M:%S.%NZ` log
      // pipelines (Fluentd, CloudWatch Insights) parse.
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      formatters: {
        level: logging.upperCaseLevels
          ? (label) => ({ level: label.toUpperCase() })
          : (label) => ({ level: label }),
      },
      redact: { paths: redactionPaths(logging.redact), censor: '[redacted]' },
    },
    destination as pino.DestinationStream,
  );
}
