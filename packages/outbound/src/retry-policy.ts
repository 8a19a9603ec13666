/**
 * When to retry, in Istio's `retryOn` vocabulary, and how long to wait. Pure functions over the
 * normalised options, so the policy is testable without a network.
 */

import type { FailureKind } from './errors.js';
import type { NormalizedUpstream } from './options.js';

type Retries = NormalizedUpstream['retries'];

/** Methods RFC 9110 calls idempotent: repeating them has the effect of sending them once. */
const idempotentMethods = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * Whether a request may be sent twice: an idempotent method, an `Idempotency-Key` header (the
 * server deduplicates), or an upstream marked `idempotent`.
 */
export function mayRepeat(
  method: string,
  headers: Record<string, string>,
  upstreamIdempotent: boolean,
): boolean {
  return upstreamIdempotent || idempotentMethods.has(method) || headers['idempotency-key'] !== undefined;
}

/** Whether a response status (and gRPC status) is retried under `retries.retryOn`. */
export function retriableStatus(retries: Retries, status: number, grpcStatus?: string | string[]): boolean {
  const on = retries.retryOn;
  if (status >= 500 && on.has('5xx')) return true;
  if ((status === 502 || status === 503 || status === 504) && on.has('gateway-error')) return true;
  if (status === 409 && on.has('retriable-4xx')) return true;
  if (on.has('retriable-status-codes') && retries.retriableStatusCodes.has(status)) return true;
  if (grpcStatus === '14' && on.has('unavailable')) return true;
  if (grpcStatus === '1' && on.has('cancelled')) return true;
  return false;
}

/**
 * Whether a failure without a response is retried. Envoy's meanings: `5xx` covers resets, connect
 * failures and per-try timeouts; `gateway-error` covers connect failures and per-try timeouts;
 * `reset` and `connect-failure` cover their own kind. TLS failures are never retried — a
 * certificate does not fix itself in 25 ms — and neither is a timeout of the whole call.
 */
export function retriableFailure(retries: Retries, kind: FailureKind): boolean {
  const on = retries.retryOn;
  switch (kind) {
    case 'connect':
      return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error');
    case 'reset':
      return on.has('reset') || on.has('5xx');
    case 'refused':
      return on.has('refused-stream') || on.has('5xx');
    case 'per-try-timeout':
      return on.has('5xx') || on.has('gateway-error');
    default:
      return false;
  }
}

/**
 * Exponential backoff with full jitter (Envoy's `retry_back_off`): a uniform wait between 0 and
 * `base × 2^(retry−1)`, capped at `maxInterval`. Full jitter spreads a crowd of retrying callers
 * instead of letting them return in lockstep.
 */
export function backoffDelay(retries: Retries, retry: number, random = Math.random): number {
  const ceiling = Math.min(retries.maxIntervalMs, retries.baseIntervalMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/** Whether the retry budget lets one more retry run now. */
export function withinBudget(
  budget: NormalizedUpstream['retryBudget'],
  activeRequests: number,
  activeRetries: number,
): boolean {
  return activeRetries < Math.max(budget.minRetryConcurrency, (activeRequests * budget.percent) / 100);
}
