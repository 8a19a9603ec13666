import { deadlineFromHeader, normalizeOptions } from '@sidecarless/core';
import { describe, expect, it } from 'vitest';
import { http } from './http.js';
import { outbound } from './index.js';
import { backoffDelay, mayRepeat, retriableFailure, retriableStatus, withinBudget } from './retry-policy.js';

function retries(retryOn?: string, extra: Record<string, unknown> = {}) {
  return normalizeOptions(
    {
      service: 's',
      upstreams: { a: { endpoints: 'http://a', retries: { ...(retryOn ? { retryOn } : {}), ...extra } } },
    },
    [outbound, http],
  )
    .section(outbound)!
    .get('a')!.retries;
}

describe('retry policy', () => {
  it('retries only 503 and connect failures under the Istio default', () => {
    const r = retries();
    expect(retriableStatus(r, 503)).toBe(true);
    expect(retriableStatus(r, 500)).toBe(false);
    expect(retriableFailure(r, 'connect')).toBe(true);
    expect(retriableFailure(r, 'reset')).toBe(false);
    expect(retriableFailure(r, 'per-try-timeout')).toBe(false);
  });

  it('maps gateway-error, retriable-4xx and gRPC statuses', () => {
    const r = retries('gateway-error,retriable-4xx,unavailable');
    expect([502, 503, 504, 500, 409].map((s) => retriableStatus(r, s))).toEqual([
      true,
      true,
      true,
      false,
      true,
    ]);
    expect(retriableStatus(r, 200, '14')).toBe(true);
    expect(retriableFailure(r, 'per-try-timeout')).toBe(true);
  });

  it('never retries TLS failures or the whole-call timeout', () => {
    const r = retries('5xx,reset,connect-failure,gateway-error');
    expect(retriableFailure(r, 'tls')).toBe(false);
    expect(retriableFailure(r, 'timeout')).toBe(false);
  });

  it('treats only idempotent methods, keyed requests or idempotent upstreams as repeatable', () => {
    expect(mayRepeat('GET', {}, false)).toBe(true);
    expect(mayRepeat('POST', {}, false)).toBe(false);
    expect(mayRepeat('POST', { 'idempotency-key': 'k' }, false)).toBe(true);
    expect(mayRepeat('PATCH', {}, true)).toBe(true);
  });

  it('backs off exponentially with full jitter, capped at maxInterval', () => {
    const r = retries(undefined, { backoff: { baseInterval: '10ms', maxInterval: '50ms' } });
    expect([1, 2, 3, 4].map((n) => backoffDelay(r, n, () => 0.999))).toEqual([9, 19, 39, 49]);
    expect(backoffDelay(r, 3, () => 0)).toBe(0);
  });

  it('allows retries up to the larger of the percentage and minRetryConcurrency', () => {
    const budget = { percent: 20, minRetryConcurrency: 3 };
    expect(withinBudget(budget, 100, 19)).toBe(true);
    expect(withinBudget(budget, 100, 20)).toBe(false);
    expect(withinBudget(budget, 5, 2)).toBe(true);
    expect(withinBudget(budget, 5, 3)).toBe(false);
  });
});

describe('deadlineFromHeader', () => {
  it('shortens the deadline to the caller’s remaining budget', () => {
    expect(deadlineFromHeader('1500', 10_000, 1_000)).toBe(2_500);
  });

  it('never lengthens the platform deadline', () => {
    expect(deadlineFromHeader('99999', 10_000, 1_000)).toBe(10_000);
  });

  it('ignores malformed values', () => {
    for (const value of ['-5', '1e3', '1.5', '', ' 10', '123456789', null, undefined])
      expect(deadlineFromHeader(value, 10_000, 1_000)).toBe(10_000);
  });
});
