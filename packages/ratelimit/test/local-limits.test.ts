/**
 * Local limits through the real pipeline (`invoke`): bursts, the answer a refused caller gets,
 * identities from verified JWTs (real tokens, real verification), overrides, shadow mode, the
 * client address behind trusted proxies, the in-flight cap, and bad configuration.
 */
import { auth } from '@sidecarless/auth';
import { ConfigError, createMesh, json, type Mesh, type MeshOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { telemetry } from '@sidecarless/telemetry';
import {
  captureLogs,
  createSigningKey,
  freePort,
  OtlpSpanKind,
  startOtlpReceiver,
} from '@sidecarless/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { rateLimits } from '../src/index.ts';

const meshes: Mesh[] = [];
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
});

function meshWith(
  section: MeshOptions['rateLimits'],
  extra: Partial<MeshOptions> = {},
  features = [rateLimits],
): Mesh {
  const mesh = createMesh(
    { service: 'orders', logging: { level: 'silent' }, rateLimits: section, ...extra } as MeshOptions,
    features,
  );
  meshes.push(mesh);
  return mesh;
}

let handled = 0;
const handler = async () => {
  handled++;
  return json({ ok: true });
};

async function statuses(
  mesh: Mesh,
  count: number,
  init: { ip?: string; headers?: Record<string, string> } = {},
) {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const request = new Request('http://localhost/orders', { headers: init.headers ?? {} });
    const response = await invoke(mesh, handler, request, { sourceIp: init.ip ?? '203.0.113.7' });
    out.push(response.status);
  }
  return out;
}

describe('a burst over a local limit', () => {
  it('gets exactly the expected number of 429s, and the handler never sees them', async () => {
    const mesh = meshWith({
      limits: [{ name: 'per-client', descriptor: 'clientAddress', requests: 10, per: 'minute' }],
    });
    handled = 0;
    const answers = await statuses(mesh, 25);
    expect(answers.filter((status) => status === 200)).toHaveLength(10);
    expect(answers.filter((status) => status === 429)).toHaveLength(15);
    expect(answers.slice(0, 10).every((status) => status === 200)).toBe(true);
    expect(handled).toBe(10);
    // Another client has its own bucket.
    expect(await statuses(mesh, 3, { ip: '198.51.100.9' })).toEqual([200, 200, 200]);
  });

  it('answers 429 with Retry-After, the RateLimit fields and problem details', async () => {
    const mesh = meshWith({
      limits: [{ name: 'per-client', descriptor: 'clientAddress', requests: 2, per: 'minute' }],
    });
    await statuses(mesh, 2);
    const response = await invoke(mesh, handler, 'http://localhost/orders', { sourceIp: '203.0.113.7' });
    expect(response.status).toBe(429);
    // 2 per minute refill one token every 30 s.
    expect(response.headers.get('retry-after')).toBe('30');
    expect(response.headers.get('ratelimit-policy')).toBe('"per-client";q=2;w=60');
    expect(response.headers.get('ratelimit')).toBe('"per-client";r=0;t=30');
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
      code: 'SCL_ERR_RATE_LIMITED',
      detail: 'over the rate limit "per-client" (2 per 60 s); retry after 30 s',
    });
  });

  it('refills continuously: one more request is allowed once a token is back', async () => {
    const mesh = meshWith({ limits: [{ name: 'fast', descriptor: 'global', requests: 2, per: '200ms' }] });
    expect(await statuses(mesh, 3)).toEqual([200, 200, 429]);
    await new Promise((resolve) => setTimeout(resolve, 120)); // one token per 100 ms
    expect(await statuses(mesh, 2)).toEqual([200, 429]);
  });

  it("takes Envoy's token bucket: maxTokens the burst, tokensPerFill per fillInterval", async () => {
    const mesh = meshWith({
      limits: [
        {
          name: 'envoy',
          descriptor: 'global',
          tokenBucket: { maxTokens: 3, tokensPerFill: 1, fillInterval: '1h' },
        },
      ],
    });
    const answers = await statuses(mesh, 5);
    expect(answers).toEqual([200, 200, 200, 429, 429]);
    const refused = await invoke(mesh, handler, 'http://localhost/orders');
    expect(refused.headers.get('ratelimit-policy')).toBe('"envoy";q=1;w=3600');
    expect(refused.headers.get('retry-after')).toBe('3600');
  });
});

describe('identities', () => {
  const key = createSigningKey('ES256');
  const authSection = {
    jwt: [{ issuer: 'https://id.test', jwks: { keys: [key.jwk] }, audiences: ['orders'] }],
  };
  const tokenFor = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000);
    return key.sign({ iss: 'https://id.test', aud: 'orders', iat: now, exp: now + 300, ...claims });
  };

  it('limits per verified subject, with per-identity overrides; a forged token is refused before the limit', async () => {
    const mesh = meshWith(
      {
        limits: [
          {
            name: 'per-user',
            descriptor: 'subject',
            requests: 2,
            per: 'minute',
            overrides: [{ values: ['batch-importer'], requests: 5, per: 'minute' }],
          },
        ],
      },
      { auth: authSection },
      [auth, rateLimits] as never,
    );
    const as = async (subject: string) => ({ authorization: `Bearer ${await tokenFor({ sub: subject })}` });
    expect(await statuses(mesh, 3, { headers: await as('alice') })).toEqual([200, 200, 429]);
    expect(await statuses(mesh, 3, { headers: await as('bob') })).toEqual([200, 200, 429]);
    expect(await statuses(mesh, 6, { headers: await as('batch-importer') })).toEqual([
      200, 200, 200, 200, 200, 429,
    ]);
    // Anonymous requests carry no subject: this limit does not count them (Envoy's rule).
    expect(await statuses(mesh, 3)).toEqual([200, 200, 200]);
    // Authentication runs first: a bad token is a 401, and it takes no token of alice's.
    expect(await statuses(mesh, 1, { headers: { authorization: 'Bearer not.a.token' } })).toEqual([401]);
  });

  it('limits per claim', async () => {
    const mesh = meshWith(
      { limits: [{ name: 'per-tenant', descriptor: { claim: 'tenant' }, requests: 1, per: 'hour' }] },
      { auth: authSection },
      [auth, rateLimits] as never,
    );
    const headers = { authorization: `Bearer ${await tokenFor({ sub: 'a', tenant: 'acme' })}` };
    const other = { authorization: `Bearer ${await tokenFor({ sub: 'b', tenant: 'acme' })}` };
    expect(await statuses(mesh, 1, { headers })).toEqual([200]);
    // Another user of the same tenant shares its bucket.
    expect(await statuses(mesh, 1, { headers: other })).toEqual([429]);
  });
});

describe('what a refused request leaves behind', () => {
  it('counts serverless_rate_limited_total, logs one warn line without the key, and shadow mode only counts', async () => {
    const logs = captureLogs();
    const port = await freePort();
    const mesh = meshWith(
      {
        limits: [
          { name: 'per-key', descriptor: { header: 'x-api-key' }, requests: 1, per: 'minute' },
          { name: 'trial', descriptor: 'global', requests: 1, per: 'minute', shadow: true },
        ],
      },
      {
        logging: { destination: logs.destination },
        telemetry: { metrics: { exporter: 'prometheus', port }, logging: { accessLog: false } },
      },
      [telemetry, rateLimits] as never,
    );
    const secret = 'sk_live_0123456789abcdef0123';
    const headers = { 'x-api-key': secret };
    // 1: allowed by both. 2: over trial (shadow: allowed, counted). 3+4: over per-key (refused).
    expect(await statuses(mesh, 1, { headers })).toEqual([200]);
    expect(await statuses(mesh, 1, { headers: { 'x-api-key': 'another-key' } })).toEqual([200]);
    expect(await statuses(mesh, 2, { headers })).toEqual([429, 429]);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain(
      'serverless_rate_limited_total{function="orders",descriptor="per-key",mode="enforce"} 2\n',
    );
    expect(metrics).toContain(
      'serverless_rate_limited_total{function="orders",descriptor="trial",mode="shadow"} 3\n',
    );
    const warnings = logs.lines().filter((line) => line.event === 'rate_limit' && line.level === 'warn');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatchObject({ descriptor: 'per-key', kind: 'header', retryAfter: 60 });
    expect(JSON.stringify(logs.lines())).not.toContain(secret);
  });
});

describe('the span', () => {
  it('carries a rate_limited event naming the limit and the mode', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const mesh = meshWith(
        { limits: [{ name: 'per-client', descriptor: 'clientAddress', requests: 1, per: 'hour' }] },
        {
          telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url }, logging: { accessLog: false } },
        },
        [telemetry, rateLimits] as never,
      );
      expect(await statuses(mesh, 2)).toEqual([200, 429]);
      await mesh.flush();
      const servers = receiver.spans.filter((span) => span.kind === OtlpSpanKind.server);
      expect(servers).toHaveLength(2);
      expect(servers[0]!.events).toEqual([]);
      expect(servers[1]!.events).toEqual([
        {
          name: 'rate_limited',
          attributes: {
            'sidecarless.rate_limit.descriptor': 'per-client',
            'sidecarless.rate_limit.mode': 'enforce',
          },
        },
      ]);
      expect(servers[1]!.attributes['http.response.status_code']).toBe(429);
    } finally {
      await receiver.close();
    }
  });
});

describe('clientAddress', () => {
  it('believes x-forwarded-for only from trusted proxies, and takes the nearest untrusted hop', async () => {
    const mesh = meshWith({
      trustedProxies: ['10.0.0.0/8'],
      limits: [{ name: 'per-client', descriptor: 'clientAddress', requests: 1, per: 'hour' }],
    });
    const via = (ip: string, forwardedFor: string) => ({ ip, headers: { 'x-forwarded-for': forwardedFor } });
    // Through the trusted load balancer: the client is 198.51.100.1, whatever it wrote on the left.
    expect(await statuses(mesh, 1, via('10.1.2.3', 'spoofed, 198.51.100.1, 10.9.9.9'))).toEqual([200]);
    expect(await statuses(mesh, 1, via('10.1.2.4', 'other-spoof, 198.51.100.1'))).toEqual([429]);
    // From an untrusted peer the header is ignored: the peer itself is the client.
    expect(await statuses(mesh, 1, via('203.0.113.50', '198.51.100.77'))).toEqual([200]);
    expect(await statuses(mesh, 1, via('203.0.113.50', '198.51.100.78'))).toEqual([429]);
  });
});

describe('route limits', () => {
  it('apply to the requests their match selects, one bucket for all callers', async () => {
    const mesh = meshWith({
      limits: [
        {
          name: 'checkout',
          descriptor: 'route',
          match: { methods: ['POST'], pathPrefix: '/orders' },
          requests: 1,
          per: 'hour',
        },
      ],
    });
    const post = (path: string, ip: string) =>
      invoke(mesh, handler, new Request(`http://localhost${path}`, { method: 'POST' }), { sourceIp: ip });
    expect((await post('/orders/1', '203.0.113.1')).status).toBe(200);
    expect((await post('/orders/2', '203.0.113.2')).status).toBe(429);
    expect((await post('/carts/1', '203.0.113.1')).status).toBe(200);
    expect((await invoke(mesh, handler, 'http://localhost/orders/3')).status).toBe(200);
  });
});

describe('the in-flight cap', () => {
  it('sheds requests over it with 503 and Retry-After instead of queueing them', async () => {
    const mesh = meshWith({ inFlight: { max: 2, retryAfter: '2s' } });
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = async () => {
      await gate;
      return json({ ok: true });
    };
    const first = invoke(mesh, slow, 'http://localhost/a');
    const second = invoke(mesh, slow, 'http://localhost/b');
    const shed = await invoke(mesh, slow, 'http://localhost/c');
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('2');
    expect(await shed.json()).toMatchObject({ code: 'SCL_ERR_OVERLOADED' });
    release();
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    // Both slots are free again.
    expect((await invoke(mesh, slow, 'http://localhost/d')).status).toBe(200);
  });
});

describe('bad configuration is a ConfigError naming the field and the fix', () => {
  const cases: [string, unknown, RegExp][] = [
    [
      'an unknown descriptor',
      { limits: [{ name: 'a', descriptor: 'ip', requests: 1, per: 'second' }] },
      /rateLimits\.limits\[0\]\.descriptor: "ip" is not a descriptor; use one of "subject"/,
    ],
    [
      'a limit of zero',
      { limits: [{ name: 'a', descriptor: 'global', requests: 0, per: 'second' }] },
      /limits\[0\]\.requests: 0 is not a limit; use a number above 0/,
    ],
    [
      'a negative limit',
      { limits: [{ name: 'a', descriptor: 'global', requests: -5, per: 'second' }] },
      /limits\[0\]\.requests: -5 is not a limit/,
    ],
    [
      'an unparsable unit',
      { limits: [{ name: 'a', descriptor: 'global', requests: 5, per: 'fortnight' }] },
      /limits\[0\]\.per: "fortnight" is not a unit; use "second", "minute", "hour"/,
    ],
    [
      'a shared scope without Redis',
      { limits: [{ name: 'a', descriptor: 'global', requests: 5, per: 'second', scope: 'shared' }] },
      /limits\[0\]\.scope: "shared" needs shared state: add import \{ redis \} from '@sidecarless\/redis'/,
    ],
    [
      'a route descriptor without match',
      { limits: [{ name: 'a', descriptor: 'route', requests: 5, per: 'second' }] },
      /limits\[0\]\.match: is required by the route descriptor/,
    ],
    [
      'two limits with one name',
      {
        limits: [
          { name: 'a', descriptor: 'global', requests: 5, per: 'second' },
          { name: 'a', descriptor: 'subject', requests: 5, per: 'second' },
        ],
      },
      /limits\[1\]\.name: "a" is used twice/,
    ],
    [
      'a lease on a local limit',
      { limits: [{ name: 'a', descriptor: 'global', requests: 5, per: 'second', lease: 10 }] },
      /limits\[0\]\.lease: applies to scope: "shared" only/,
    ],
  ];
  for (const [what, section, message] of cases) {
    it(what, () => {
      expect(() =>
        createMesh({ service: 'orders', rateLimits: section } as MeshOptions, [rateLimits]),
      ).toThrow(ConfigError);
      expect(() =>
        createMesh({ service: 'orders', rateLimits: section } as MeshOptions, [rateLimits]),
      ).toThrow(message);
    });
  }
  it('names the package when the section is given without the feature', () => {
    expect(() => createMesh({ service: 'orders', rateLimits: { limits: [] } } as MeshOptions, [])).toThrow(
      /rateLimits.*@sidecarless\/ratelimit/,
    );
  });
});
