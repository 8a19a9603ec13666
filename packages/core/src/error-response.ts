/**
 * Turning an error into the response the caller sees. Exposed errors (4xx, or any
 * `SidecarlessError` marked `expose`) say what went wrong; everything else is a bare 500 that
 * leaks no message and no stack. The body is RFC 9457 problem details.
 */
import { ErrorCodes, SidecarlessError } from './errors.js';

/** Problem-details body sent for an error. */
export interface ProblemBody {
  type: 'about:blank';
  title: string;
  status: number;
  code: string;
  detail?: string;
  invocationId: string;
}

const titles: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The status, headers and problem body for `error`, without building a `Response`. */
export function describeError(
  error: unknown,
  invocationId: string,
): { status: number; headers: Record<string, string>; body: ProblemBody } {
  const known = error instanceof SidecarlessError ? error : undefined;
  const status = known && known.status >= 400 && known.status <= 599 ? known.status : 500;
  const body: ProblemBody = {
    type: 'about:blank',
    title: titles[status] ?? 'Error',
    status,
    code: known?.code ?? ErrorCodes.internal,
    invocationId,
  };
  if (known?.expose) body.detail = known.message;
  return {
    status,
    headers: { 'content-type': 'application/problem+json', ...known?.headers },
    body,
  };
}

/** The `Response` the pipeline answers with when `error` ends an HTTP invocation. */
export function errorToResponse(error: unknown, invocationId: string): Response {
  const { status, headers, body } = describeError(error, invocationId);
  return new Response(JSON.stringify(body), { status, headers });
}
