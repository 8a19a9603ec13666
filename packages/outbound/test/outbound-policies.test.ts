import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  type Context,
  context,
  propagation,
  type TextMapPropagator,
  type TextMapSetter,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';

import { listen, mesh, server } from './outbound-fixture.ts';

/**
 * A stand-in for the SDK's W3C propagators (@opentelemetry/core), which this test runner cannot
 * load: its ESM build imports @opentelemetry/api by paths Node rejects. It writes the same
 * `traceparent`/`tracestate`/`baggage` formats from the context it is given — which is what the
 * outbound client must hand it.
 */
class W3CStandInPropagator implements TextMapPropagator {
  inject(active: Context, carrier: unknown, setter: TextMapSetter): void {
    const span = trace.getSpanContext(active);
    if (span) {
      setter.set(
        carrier,
        'traceparent',
        `00-${span.traceId}-${span.spanId}-0${span.traceFlags.toString(16)}`,
      );
      const state = span.traceState?.serialize();
      if (state) setter.set(carrier, 'tracestate', state);
    }
    const baggage = propagation.getBaggage(active);
    if (baggage) {
      const entries = baggage
        .getAllEntries()
        .map(([key, entry]) => `${key}=${encodeURIComponent(entry.value)}`);
      if (entries.length > 0) setter.set(carrier, 'baggage', entries.join(','));
    }
  }
  extract(active: Context): Context {
    return active;
  }
  fields(): string[] {
    return ['traceparent', 'tracestate', 'baggage'];
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('retry budget', () => {
  it('allows no retries when the budget is zero', async () => {
    const up = await server();
    up.fallback = { status: 503, delayHeadersMs: 50 };
    const m = mesh({ inventory: { endpoints: up.url, retryBudget: { percent: 0, minRetryConcurrency: 0 } } });
    const responses = await Promise.all(Array.from({ length: 10 }, () => m.upstream('inventory').fetch('/')));
    expect(responses.map((r) => r.status)).toEqual(Array(10).fill(503));
    expect(up.requests).toHaveLength(10);
  });

  it('caps concurrent retries at minRetryConcurrency when the percentage allows fewer', async () => {
    const up = await server();
    up.fallback = { status: 503, delayHeadersMs: 50 };
    const m = mesh({
      inventory: {
        endpoints: up.url,
        retries: { attempts: 1, backoff: { baseInterval: '1ms' } },
        retryBudget: { percent: 10, minRetryConcurrency: 2 },
      },
    });
    await Promise.all(Array.from({ length: 10 }, () => m.upstream('inventory').fetch('/')));
    // 10 first tries; 10% of 10 active is 1, so the floor of 2 concurrent retries applies.
    expect(up.requests).toHaveLength(12);
  });
});

describe('circuit breaker', () => {
  it('opens after N consecutive failures, fails fast, then half-opens and closes', async () => {
    const up = await server();
    up.fallback = { status: 500 };
    const states = listen<{ state: string }>('sidecarless:upstream:circuit');
    const m = mesh({
      inventory: {
        endpoints: up.url,
        retries: { attempts: 0 },
        circuitBreaker: { consecutiveFailures: 3, halfOpenAfter: '200ms' },
      },
    });
    const client = m.upstream('inventory');
    for (let i = 0; i < 3; i++) expect((await client.fetch('/')).status).toBe(500);
    await expect(client.fetch('/')).rejects.toMatchObject({ code: 'SCL_ERR_CIRCUIT_OPEN', status: 503 });
    expect(up.requests).toHaveLength(3);
    await sleep(250);
    up.fallback = { status: 200 };
    expect((await client.fetch('/')).status).toBe(200);
    states.stop();
    expect(states.messages.map((s) => s.state)).toEqual(['open', 'half-open', 'closed']);
  });

  it('carries an open circuit across a new mesh through circuitState and initialState', async () => {
    const up = await server();
    up.fallback = { status: 500 };
    const config = {
      endpoints: up.url,
      retries: { attempts: 0 },
      circuitBreaker: { consecutiveFailures: 1, halfOpenAfter: '10s' },
    };
    const first = mesh({ inventory: config });
    await first.ready();
    await first.upstream('inventory').fetch('/');
    const saved = JSON.parse(JSON.stringify(first.upstream('inventory').circuitState?.()));
    const second = mesh({
      inventory: { ...config, circuitBreaker: { ...config.circuitBreaker, initialState: saved } },
    });
    await expect(second.upstream('inventory').fetch('/')).rejects.toMatchObject({
      code: 'SCL_ERR_CIRCUIT_OPEN',
    });
    expect(up.requests).toHaveLength(1);
  });

  it('stops retrying once the circuit opens mid-call', async () => {
    const up = await server();
    up.fallback = { status: 503 };
    const m = mesh({
      inventory: {
        endpoints: up.url,
        retries: { attempts: 5, retryOn: '5xx', backoff: { baseInterval: '1ms' } },
        circuitBreaker: { consecutiveFailures: 2 },
      },
    });
    await expect(m.upstream('inventory').fetch('/')).rejects.toMatchObject({ code: 'SCL_ERR_CIRCUIT_OPEN' });
    expect(up.requests).toHaveLength(2);
  });
});

describe('outlier detection and load balancing', () => {
  it('ejects a failing endpoint for baseEjectionTime, then lets traffic back', async () => {
    const bad = await server('bad');
    const good = await server('good');
    bad.fallback = { status: 500 };
    const ejections = listen<{ endpoint: string; ejectedForMs: number }>('sidecarless:upstream:ejection');
    const m = mesh({
      inventory: {
        endpoints: [bad.url, good.url],
        retries: { attempts: 0 },
        outlierDetection: { consecutive5xxErrors: 2, baseEjectionTime: '1s', maxEjectionPercent: 50 },
      },
    });
    const client = m.upstream('inventory');
    for (let i = 0; i < 4; i++) await (await client.fetch('/')).text();
    expect(bad.requests).toHaveLength(2);
    const ejectedAt = Date.now();
    for (let i = 0; i < 10; i++) await (await client.fetch('/')).text();
    expect(Date.now() - ejectedAt).toBeLessThan(1_000);
    expect(bad.requests).toHaveLength(2);
    expect(good.requests).toHaveLength(12);
    expect(ejections.messages).toEqual([
      expect.objectContaining({ endpoint: new URL(bad.url).origin, ejectedForMs: 1_000 }),
    ]);
    ejections.stop();
    await sleep(1_050 - (Date.now() - ejectedAt));
    for (let i = 0; i < 4; i++) await (await client.fetch('/')).text();
    expect(bad.requests.length).toBeGreaterThan(2);
  });

  it('ejects no more than maxEjectionPercent of endpoints', async () => {
    const a = await server('a');
    const b = await server('b');
    a.fallback = { status: 500 };
    b.fallback = { status: 500 };
    const ejections = listen<{ endpoint: string }>('sidecarless:upstream:ejection');
    const m = mesh({
      inventory: {
        endpoints: [a.url, b.url],
        retries: { attempts: 0 },
        outlierDetection: { consecutive5xxErrors: 1, maxEjectionPercent: 50 },
      },
    });
    for (let i = 0; i < 6; i++) await (await m.upstream('inventory').fetch('/')).text();
    ejections.stop();
    expect(ejections.messages).toHaveLength(1);
  });

  it('alternates endpoints with ROUND_ROBIN', async () => {
    const a = await server('a');
    const b = await server('b');
    const m = mesh({ inventory: { endpoints: [a.url, b.url] } });
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) bodies.push(await (await m.upstream('inventory').fetch('/')).text());
    expect(a.requests).toHaveLength(2);
    expect(b.requests).toHaveLength(2);
    expect(bodies[0]).not.toBe(bodies[1]);
  });

  it('prefers the endpoint with fewer requests in flight with LEAST_REQUEST', async () => {
    const slow = await server('slow');
    const fast = await server('fast');
    slow.fallback = { delayHeadersMs: 2_000 };
    const m = mesh({
      inventory: { endpoints: [slow.url, fast.url], loadBalancer: { simple: 'LEAST_REQUEST' } },
    });
    const client = m.upstream('inventory');
    // Two concurrent requests: the second sees the first in flight and goes to the other endpoint,
    // so the slow one now holds a request for two seconds.
    const held = [client.fetch('/'), client.fetch('/')];
    // The fast one answers first; once its body is read only the slow one is in flight.
    await (await Promise.race(held)).text();
    for (let i = 0; i < 10; i++) await (await client.fetch('/')).text();
    expect(slow.requests).toHaveLength(1);
    expect(fast.requests).toHaveLength(11);
    await Promise.all(held);
  });

  it('spreads requests over every endpoint with RANDOM', async () => {
    const a = await server('a');
    const b = await server('b');
    const m = mesh({ inventory: { endpoints: [a.url, b.url], loadBalancer: { simple: 'RANDOM' } } });
    for (let i = 0; i < 40; i++) await (await m.upstream('inventory').fetch('/')).text();
    expect(a.requests.length).toBeGreaterThan(0);
    expect(b.requests.length).toBeGreaterThan(0);
  });

  it('resolves a DNS name to its addresses and sends the logical Host header', async () => {
    const up = await server();
    const m = mesh({ inventory: { endpoints: `http://localhost:${up.port}`, resolution: 'DNS' } });
    const response = await m.upstream('inventory').fetch('/x');
    expect(response.status).toBe(200);
    expect(up.requests[0]?.headers.host).toBe(`localhost:${up.port}`);
  });
});

describe('connection pool', () => {
  it('fails fast with an overflow error when connections and the pending queue are full', async () => {
    const up = await server();
    up.fallback = { delayHeadersMs: 200 };
    const m = mesh({
      inventory: {
        endpoints: up.url,
        connectionPool: { tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } },
      },
    });
    const client = m.upstream('inventory');
    await m.ready();
    const first = client.fetch('/');
    const second = client.fetch('/');
    const started = Date.now();
    await expect(client.fetch('/')).rejects.toMatchObject({ code: 'SCL_ERR_UPSTREAM_OVERFLOW', status: 503 });
    // Failing fast means well before the 200 ms the queued requests wait for.
    expect(Date.now() - started).toBeLessThan(150);
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(up.connections).toBe(1);
  });
});

describe("connectionPool.http: Envoy's max_requests and max_retries", () => {
  it('http2MaxRequests caps the attempts in flight without maxConnections', async () => {
    const up = await server();
    up.fallback = { delayHeadersMs: 150 };
    const m = mesh({ inventory: { endpoints: up.url, connectionPool: { http: { http2MaxRequests: 2 } } } });
    const client = m.upstream('inventory');
    await m.ready();
    const held = [client.fetch('/'), client.fetch('/')];
    await expect(client.fetch('/')).rejects.toMatchObject({ code: 'SCL_ERR_UPSTREAM_OVERFLOW', status: 503 });
    for (const response of await Promise.all(held)) expect(response.status).toBe(200);
    expect(up.requests).toHaveLength(2);
  });

  it('maxRetries caps the retries in flight across calls', async () => {
    const up = await server();
    up.fallback = { status: 503, delayHeadersMs: 50 };
    const upstream = (maxRetries: number) =>
      mesh({
        inventory: {
          endpoints: up.url,
          retries: { attempts: 2, retryOn: '5xx', backoff: { baseInterval: 1 } },
          connectionPool: { http: { maxRetries } },
        },
      }).upstream('inventory');
    // With maxRetries 0 no call retries: three calls, three attempts.
    const none = upstream(0);
    await Promise.all([none.fetch('/'), none.fetch('/'), none.fetch('/')]);
    expect(up.requests).toHaveLength(3);
    up.requests.length = 0;
    // With 1, one call at a time may retry: of three concurrent calls one retries (twice), the others do not.
    const one = upstream(1);
    await Promise.all([one.fetch('/'), one.fetch('/'), one.fetch('/')]);
    expect(up.requests).toHaveLength(5);
  });
});

describe('connection reuse limits', () => {
  it('closes a connection after maxRequestsPerConnection requests', async () => {
    const up = await server();
    const m = mesh({
      inventory: { endpoints: up.url, connectionPool: { http: { maxRequestsPerConnection: 2 } } },
    });
    for (let i = 0; i < 6; i++) await (await m.upstream('inventory').fetch('/')).text();
    const perConnection = new Map<number | undefined, number>();
    for (const request of up.requests)
      perConnection.set(request.remotePort, (perConnection.get(request.remotePort) ?? 0) + 1);
    expect(Math.max(...perConnection.values())).toBeLessThanOrEqual(2);
    expect(up.connections).toBeGreaterThanOrEqual(3);
  });
});

describe('call(work)', () => {
  it('gives the work a signal that aborts at perTryTimeout, and retries it', async () => {
    const m = mesh({
      ledger: {
        endpoints: 'http://127.0.0.1:9',
        retries: {
          attempts: 1,
          perTryTimeout: '50ms',
          retryOn: 'gateway-error',
          backoff: { baseInterval: '1ms' },
        },
      },
    });
    const reasons: unknown[] = [];
    const result = await m.upstream('ledger').call(async ({ signal, attempt }) => {
      if (attempt === 1) {
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        reasons.push(signal.reason);
        throw signal.reason;
      }
      return 'second';
    });
    expect(result).toBe('second');
    expect(reasons).toEqual([expect.objectContaining({ code: 'SCL_ERR_UPSTREAM_PER_TRY_TIMEOUT' })]);
  });

  it('retries an AWS-SDK-style 503 and a connection reset', async () => {
    const m = mesh({
      ledger: {
        endpoints: 'http://127.0.0.1:9',
        retries: { attempts: 2, retryOn: '5xx,reset', backoff: { baseInterval: '1ms' } },
      },
    });
    const failures = [
      Object.assign(new Error('ServiceUnavailable'), { $metadata: { httpStatusCode: 503 } }),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    ];
    let calls = 0;
    const result = await m.upstream('ledger').call(async () => {
      calls++;
      const failure = failures.shift();
      if (failure) throw failure;
      return 42;
    });
    expect(result).toBe(42);
    expect(calls).toBe(3);
  });

  it('rethrows an application error without retrying it', async () => {
    const m = mesh({
      ledger: { endpoints: 'http://127.0.0.1:9', retries: { attempts: 3, retryOn: '5xx,reset' } },
    });
    let calls = 0;
    const failure = new TypeError('bad input');
    await expect(
      m.upstream('ledger').call(async () => {
        calls++;
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(calls).toBe(1);
  });

  it('opens the circuit for call() after consecutive failures', async () => {
    const m = mesh({
      ledger: {
        endpoints: 'http://127.0.0.1:9',
        retries: { attempts: 0 },
        circuitBreaker: { consecutiveFailures: 2 },
      },
    });
    const fail = async () => {
      throw new Error('down');
    };
    await expect(m.upstream('ledger').call(fail)).rejects.toThrow('down');
    await expect(m.upstream('ledger').call(fail)).rejects.toThrow('down');
    await expect(m.upstream('ledger').call(async () => 1)).rejects.toMatchObject({
      code: 'SCL_ERR_CIRCUIT_OPEN',
    });
  });

  it('counts a call() result with a 5xx status (a Response, an SDK-style result) as a breaker failure', async () => {
    const m = mesh({
      ledger: { retries: { attempts: 0 }, circuitBreaker: { consecutiveFailures: 2 } },
    });
    const unavailable = async () => ({ status: 503 });
    await expect(m.upstream('ledger').call(unavailable)).resolves.toEqual({ status: 503 });
    await expect(m.upstream('ledger').call(unavailable)).resolves.toEqual({ status: 503 });
    await expect(m.upstream('ledger').call(async () => ({ status: 200 }))).rejects.toMatchObject({
      code: 'SCL_ERR_CIRCUIT_OPEN',
    });
  });
});

describe('propagation', () => {
  it('injects W3C traceparent, tracestate and baggage from the active context', async () => {
    const up = await server();
    const m = mesh({ inventory: { endpoints: up.url } });
    await m.ready();
    propagation.setGlobalPropagator(new W3CStandInPropagator());
    try {
      const spanContext = {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: TraceFlags.SAMPLED,
        traceState: { serialize: () => 'vendor=abc' } as never,
      };
      let active = trace.setSpanContext(context.active(), spanContext);
      active = propagation.setBaggage(active, propagation.createBaggage({ tenant: { value: 'acme' } }));
      // No context manager is registered here, so pass the context through the attempt-start hook.
      const hook = (message: unknown) => {
        (message as { context?: unknown }).context = active;
      };
      subscribe('sidecarless:upstream:attempt-start', hook);
      await (await m.upstream('inventory').fetch('/')).text();
      unsubscribe('sidecarless:upstream:attempt-start', hook);
    } finally {
      propagation.disable();
    }
    const headers = up.requests[0]!.headers;
    expect(headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(headers.tracestate).toBe('vendor=abc');
    expect(headers.baggage).toBe('tenant=acme');
  });
});
