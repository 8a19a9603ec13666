import { ConfigError, normalizeOptions } from '@sidecarless/core';
import { describe, expect, it } from 'vitest';
import { http } from './http.js';
import { outbound } from './index.js';

function check(upstreams: unknown) {
  return normalizeOptions({ service: 'orders', upstreams }, [outbound, http]);
}

function issues(upstreams: unknown): string[] {
  try {
    check(upstreams);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  return [];
}

describe('upstreams options', () => {
  it('accepts url as the one-endpoint shorthand and retryOn as a list', () => {
    const inventory = check({
      inventory: { url: 'http://127.0.0.1:9000', retries: { retryOn: ['5xx', 'reset'] } },
    })
      .section(outbound)!
      .get('inventory')!;
    expect(inventory.endpoints.map((url) => url.href)).toEqual(['http://127.0.0.1:9000/']);
    expect([...inventory.retries.retryOn]).toEqual(['5xx', 'reset']);
    expect(issues({ inventory: { url: 'http://a', endpoints: 'http://b' } })).toEqual([
      'upstreams.inventory.url: set either url (one endpoint) or endpoints (one or more), not both',
    ]);
    expect(
      issues({ inventory: { url: 'http://a', retries: { retryOn: ['5xx', 'sometimes'] } } })[0],
    ).toContain('upstreams.inventory.retries.retryOn: "sometimes" is not a retry condition');
  });

  it('applies Istio defaults to a minimal upstream', () => {
    const inventory = check({
      inventory: { endpoints: 'https://inventory.internal:8443/api' },
    })
      .section(outbound)!
      .get('inventory')!;
    expect(inventory.endpoints.map((url) => url.href)).toEqual(['https://inventory.internal:8443/api']);
    expect(inventory.retries.attempts).toBe(2);
    expect([...inventory.retries.retryOn]).toEqual([
      'connect-failure',
      'refused-stream',
      'unavailable',
      'cancelled',
      'retriable-status-codes',
    ]);
    expect([...inventory.retries.retriableStatusCodes]).toEqual([503]);
    expect(inventory.retryBudget).toEqual({ percent: 20, minRetryConcurrency: 3 });
    expect(inventory.loadBalancer).toBe('ROUND_ROBIN');
    expect(inventory.circuitBreaker).toBeUndefined();
    expect(inventory.timeoutMs).toBeUndefined();
    expect(inventory.deadlineMarginMs).toBe(50);
  });

  it('returns an empty map when the section is absent', () => {
    expect(normalizeOptions({ service: 'orders' }, [outbound, http]).section(outbound)).toBeUndefined();
  });

  it('names the field and the fix for a bad duration', () => {
    expect(issues({ inventory: { endpoints: 'http://a', timeout: '2 sec' } })).toEqual([
      'upstreams.inventory.timeout: "2 sec" is not a duration; use "2s" or 2000',
    ]);
  });

  it('suggests the closest key for a typo', () => {
    expect(issues({ inventory: { endpoints: 'http://a', retires: {} } })).toEqual([
      'upstreams.inventory.retires: unknown option; did you mean "retries"?',
    ]);
  });

  it('rejects an unknown retryOn condition and lists the vocabulary', () => {
    const [issue] = issues({ inventory: { endpoints: 'http://a', retries: { retryOn: '5xx,sometimes' } } });
    expect(issue).toContain('upstreams.inventory.retries.retryOn: "sometimes" is not a retry condition');
    expect(issue).toContain('gateway-error');
  });

  it('accepts an upstream without endpoints (call() only) and rejects non-http URLs', () => {
    expect(issues({ a: {}, b: { endpoints: 'ftp://x' }, c: { endpoints: [] } })).toEqual([
      'upstreams.b.endpoints: "ftp://x" is not http(s); use an http:// or https:// URL',
      'upstreams.c.endpoints: is empty; list at least one URL',
    ]);
  });

  it('refuses HTTP-only settings on a call()-only upstream, and endpoints without the HTTP transport', () => {
    expect(issues({ a: { tls: { mode: 'SIMPLE' } } })).toEqual([
      'upstreams.a.tls: applies to HTTP endpoints; set url: "https://inventory.internal:8443" (or remove it for a call()-only upstream)',
    ]);
    let message = '';
    try {
      normalizeOptions({ service: 'orders', upstreams: { a: { url: 'http://a:1' } } }, [outbound]);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(
      "upstreams.a.url: an HTTP upstream needs the HTTP transport, which is not registered; add import { http } from '@sidecarless/outbound/http'",
    );
  });

  it('requires client material for MUTUAL and refuses plaintext endpoints with tls', () => {
    expect(issues({ a: { endpoints: 'http://a:1', tls: { mode: 'MUTUAL' } } })).toEqual([
      'upstreams.a.tls.clientCertificate: is required for MUTUAL; give the client certificate PEM or its file path',
      'upstreams.a.tls.privateKey: is required for MUTUAL; give the private key PEM or its file path',
      'upstreams.a.endpoints: "http://a:1" is plaintext but tls is configured; use https:// (there is never a plaintext fallback)',
    ]);
  });

  it('never echoes key material in a message', () => {
    const key = `-----BEGIN PRIVATE KEY-----\n${'A'.repeat(64)}\n-----END PRIVATE KEY-----`;
    const all = issues({ a: { endpoints: 'https://a', tls: { mode: 'SIMPLE', privateKey: key } } }).join(
      '\n',
    );
    expect(all).toContain('upstreams.a.tls.mode');
    expect(all).not.toContain('AAAA');
  });

  it('checks every section: breaker, outlier detection, pool and load balancer', () => {
    expect(
      issues({
        a: {
          endpoints: 'http://a',
          circuitBreaker: { consecutiveFailures: 0, halfOpenAfter: 'soon' },
          outlierDetection: { maxEjectionPercent: 150 },
          connectionPool: { tcp: { maxConnections: -1 }, http: { h2UpgradePolicy: 'YES' } },
          loadBalancer: { simple: 'LEAST_CONN' },
        },
      }),
    ).toEqual([
      'upstreams.a.circuitBreaker.consecutiveFailures: 0 is not a whole number from 1 to 9007199254740991',
      'upstreams.a.circuitBreaker.halfOpenAfter: "soon" is not a duration; use "2s" or 2000',
      'upstreams.a.outlierDetection.maxEjectionPercent: 150 is not a percentage; use a number from 0 to 100',
      'upstreams.a.loadBalancer.simple: "LEAST_CONN" is not allowed; use one of "ROUND_ROBIN", "LEAST_REQUEST", "RANDOM"',
      'upstreams.a.connectionPool.tcp.maxConnections: -1 is not a whole number from 1 to 9007199254740991',
      'upstreams.a.connectionPool.http.h2UpgradePolicy: "YES" is not allowed; use one of "DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"',
    ]);
  });

  it('normalises a sampling breaker and durations', () => {
    const a = check({
      a: {
        endpoints: ['http://a:1', 'http://b:2'],
        timeout: '2s',
        retries: { perTryTimeout: 500, backoff: { baseInterval: '10ms' } },
        circuitBreaker: { sampling: { threshold: 0.5, duration: '30s' }, halfOpenAfter: '5s' },
      },
    })
      .section(outbound)!
      .get('a')!;
    expect(a.timeoutMs).toBe(2_000);
    expect(a.retries.perTryTimeoutMs).toBe(500);
    expect(a.retries.maxIntervalMs).toBe(100);
    expect(a.circuitBreaker).toMatchObject({
      consecutiveFailures: undefined,
      sampling: { threshold: 0.5, durationMs: 30_000, minimumRps: 5 },
      halfOpenAfterMs: 5_000,
    });
  });
});
