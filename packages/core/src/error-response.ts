/**
 * Turning an error into the response the caller sees. Exposed errors (4xx, or any
 * `SidecarlessError` marked `expose`) say what went wrong; everything else is a bare 500 that
 * leaks no message and no stack. The body is RFC 9457 problem details.
 */
import { ErrorCodes, SidecarlessError } from './errors.js';
import { LazyResponse } from './lazy-response.js';
import { nodeBuiltin } from './node-builtin.js';

/** Problem-details body sent for an error. */
export interface ProblemBody {
  type: 'about:blank';
  title: string;
  status: number;
  code: string;
  detail?: string;
  invocationId: string;
}

/**
 * The reason phrase for a status: Node's table, with RFC 9110's name where Node still has the
 * older one. Exported for adapters that need a status line (ALB's `statusDescription`).
 */
export function reasonPhrase(status: number): string | undefined {
  return status === 413 ? 'Content Too Large' : nodeBuiltin('node:http').STATUS_CODES[status];
}

/** The status, headers and problem body for `error`, without building a `Response`. */
export function describeError(
  error: unknown,
  invocationId: string,
): { status: number; headers: Record<string, string>; body: ProblemBody } {
  const known = error instanceof SidecarlessError ? error : undefined;
  const status = known && known.status >= 400 && known.status <= 599 ? known.status : 500;
  const body: ProblemBody = {
    type: 'about:blank',
    title: reasonPhrase(status) ?? 'Error',
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

/**
 * The `Response` the pipeline answers with when `error` ends an HTTP invocation. A lazy one:
 * refusals (401, 403, 429) are a hot path under attack, and the adapters send its body as is.
 */
export function errorToResponse(error: unknown, invocationId: string): Response {
  const { status, headers, body } = describeError(error, invocationId);
  return new LazyResponse(JSON.stringify(body), { status, headers }) as unknown as Response;
}
