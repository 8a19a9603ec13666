import { SidecarlessError } from '@sidecarless/core';
import { errorBrand } from '@sidecarless/core/feature';
/**
 * Errors of the outbound client. Each has a stable code, maps to a gateway status, names the
 * upstream, and keeps undici's or Node's error in `cause`. `kind` tells the retry policy what
 * happened without string matching in the hot path.
 */

/** Error codes raised by the outbound client. */
export const UpstreamErrorCodes = {
  timeout: 'SCL_ERR_UPSTREAM_TIMEOUT',
  perTryTimeout: 'SCL_ERR_UPSTREAM_PER_TRY_TIMEOUT',
  circuitOpen: 'SCL_ERR_CIRCUIT_OPEN',
  overflow: 'SCL_ERR_UPSTREAM_OVERFLOW',
  passthroughRefused: 'SCL_ERR_UPSTREAM_PASSTHROUGH_REFUSED',
  connect: 'SCL_ERR_UPSTREAM_CONNECT',
  reset: 'SCL_ERR_UPSTREAM_RESET',
  tlsUnknownCa: 'SCL_ERR_UPSTREAM_TLS_UNKNOWN_CA',
  tlsExpired: 'SCL_ERR_UPSTREAM_TLS_EXPIRED',
  tlsWrongSan: 'SCL_ERR_UPSTREAM_TLS_WRONG_SAN',
  tlsClientCertRefused: 'SCL_ERR_UPSTREAM_TLS_CLIENT_CERT_REFUSED',
  tls: 'SCL_ERR_UPSTREAM_TLS',
  aborted: 'SCL_ERR_UPSTREAM_ABORTED',
  noTransport: 'SCL_ERR_UPSTREAM_NO_TRANSPORT',
  /** An abort injected by a route's `fault` (fault injection), with the route's status. */
  faultAbort: 'SCL_ERR_UPSTREAM_FAULT_ABORT',
} as const;

/** What kind of failure, for `retryOn`. */
export type FailureKind =
  | 'connect'
  | 'reset'
  | 'timeout'
  | 'per-try-timeout'
  | 'tls'
  /** The server refused the stream (HTTP/2 REFUSED_STREAM). */
  | 'refused'
  /** We refused locally: open circuit, full pool, passthrough not allowed. Never retried. */
  | 'rejected'
  | 'aborted'
  /** A route's fault injection answered for the upstream (`faultAbort`). */
  | 'injected';

/** What an {@link UpstreamError} is made of. */
export interface UpstreamErrorOptions {
  /** One of {@link UpstreamErrorCodes}. */
  readonly code: string;
  /** The upstream's configured name. */
  readonly upstream: string;
  readonly kind: FailureKind;
  /** What happened, for people; prefixed with the upstream's name. */
  readonly message: string;
  /** The transport's (undici's, Node's) error. */
  readonly cause?: unknown;
  /** The status the invocation answers with when the handler lets this error escape. Default 502. */
  readonly status?: number;
}

/**
 * An outbound failure.
 *
 * @example
 * ```ts
 * import { UpstreamError } from '@sidecarless/outbound';
 *
 * function describeFailure(error: unknown): string {
 *   return error instanceof UpstreamError ? `${error.upstream}: ${error.code}` : 'other';
 * }
 * ```
 */
export class UpstreamError extends SidecarlessError {
  static override readonly [errorBrand]: string = 'UpstreamError';

  /** The upstream's configured name. */
  readonly upstream: string;
  /** What went wrong, for the retry policy. */
  readonly kind: FailureKind;

  constructor({ code, upstream, kind, message, cause, status = 502 }: UpstreamErrorOptions) {
    super(code, `upstream "${upstream}": ${message}`, { status, expose: false, cause });
    this.name = 'UpstreamError';
    this.upstream = upstream;
    this.kind = kind;
  }
}

const connectCodes = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);

/**
 * Translates a transport error into an {@link UpstreamError} whose message says which check
 * failed. TLS errors are named by the check: unknown CA, expired, wrong SAN, client certificate refused.
 */
export function toUpstreamError(upstream: string, error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  const code = (error as { code?: unknown })?.code;
  const text = String((error as { message?: unknown })?.message ?? error);
  const tls = tlsFailure(typeof code === 'string' ? code : '', text);
  if (tls)
    return new UpstreamError({ code: tls.code, upstream, kind: 'tls', message: tls.message, cause: error });
  if (typeof code === 'string' && connectCodes.has(code))
    return new UpstreamError({
      code: UpstreamErrorCodes.connect,
      upstream,
      kind: 'connect',
      message: `could not connect (${code})`,
      cause: error,
    });
  if (typeof code === 'string' && resetCodes.has(code))
    return new UpstreamError({
      code: UpstreamErrorCodes.reset,
      upstream,
      kind: 'reset',
      message: `the connection was reset (${code})`,
      cause: error,
    });
  if (code === 'UND_ERR_ABORTED' || (error as { name?: string })?.name === 'AbortError')
    return new UpstreamError({
      code: UpstreamErrorCodes.aborted,
      upstream,
      kind: 'aborted',
      message: 'the request was aborted by its caller',
      cause: error,
    });
  return new UpstreamError({
    code: UpstreamErrorCodes.reset,
    upstream,
    kind: 'reset',
    message: `the request failed (${typeof code === 'string' ? code : 'unknown'})`,
    cause: error,
  });
}

function tlsFailure(code: string, text: string): { code: string; message: string } | undefined {
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return {
        code: UpstreamErrorCodes.tlsUnknownCa,
        message: `TLS check failed: the server certificate is not signed by a trusted CA (${code}); check tls.caCertificates`,
      };
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return {
        code: UpstreamErrorCodes.tlsExpired,
        message: `TLS check failed: the server certificate is outside its validity period (${code})`,
      };
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'SCL_ERR_UPSTREAM_TLS_WRONG_SAN':
      return {
        code: UpstreamErrorCodes.tlsWrongSan,
        message: `TLS check failed: wrong subject alternative name: ${text}`,
      };
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED':
    case 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED':
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN':
      return {
        code: UpstreamErrorCodes.tlsClientCertRefused,
        message: `TLS check failed: the server refused our client certificate (${code}); check tls.clientCertificate and the server's CA`,
      };
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('CERT_'))
    return { code: UpstreamErrorCodes.tls, message: `TLS handshake failed (${code})` };
  return undefined;
}
