/**
 * Authorization through a real mesh: the answer a denied caller sees, the log lines an operator
 * sees, and the token cache behind repeated requests.
 */

import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createMesh, type HttpHandler, type Mesh, normalizeOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import {
  type CapturedLogs,
  captureLogs,
  createSigningKey,
  nowSeconds,
  type SigningKey,
} from '@sidecarless/testing';
import { afterEach, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';
import type { AuthOptions, DeniedMessage } from '../src/index.ts';
import { auth } from '../src/index.ts';
import { TokenError } from '../src/jws.ts';
import { JwtVerifier } from '../src/jwt.ts';

const issuer = 'https://id.example.test';
let key: SigningKey;
const meshes: Mesh[] = [];

beforeAll(() => {
  key = createSigningKey('ES256', 'k1');
});
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
});

const ok: HttpHandler = (_request, ctx) => Response.json({ principal: ctx.auth?.principal ?? null });

function setup(policies: NonNullable<AuthOptions['policies']>): { mesh: Mesh; logs: CapturedLogs } {
  const logs = captureLogs();
  const mesh = createMesh(
    {
      service: 'orders',
      logging: { destination: logs.destination },
      auth: {
        jwt: [{ issuer, jwks: { keys: [key.jwk] }, audiences: ['orders'] }],
        policies,
      },
    },
    [auth],
  );
  meshes.push(mesh);
  return { mesh, logs };
}

function token(claims: Record<string, unknown> = {}) {
  return key.sign({ iss: issuer, sub: 'alice', aud: 'orders', exp: nowSeconds() + 300, ...claims });
}

describe('authorization through the mesh', () => {
  // The example from the design document.
  const designPolicies: NonNullable<AuthOptions['policies']> = [
    {
      name: 'functions-group',
      action: 'ALLOW',
      rules: [
        {
          to: [{ methods: ['GET', 'POST'], paths: ['/api/*'] }],
          when: [{ key: 'request.auth.claims[groups]', values: ['functions'] }],
        },
      ],
    },
    { name: 'watch-writes', action: 'AUDIT', rules: [{ to: [{ operation: { methods: ['POST'] } }] }] },
  ];

  it('allows a caller in the group and denies one outside it with a bare 403', async () => {
    const { mesh, logs } = setup(designPolicies);
    const member = await token({ groups: ['functions'] });
    const allowed = await invoke(
      mesh,
      ok,
      new Request('http://o.test/api/orders', { headers: { authorization: `Bearer ${member}` } }),
    );
    expect(allowed.status).toBe(200);

    const outsider = await token({ groups: ['guests'] });
    const denied = await invoke(
      mesh,
      ok,
      new Request('http://o.test/api/orders', { headers: { authorization: `Bearer ${outsider}` } }),
    );
    expect(denied.status).toBe(403);
    const body = await denied.text();
    expect(body).not.toContain('functions-group');
    expect(body).not.toContain('groups');
    expect(JSON.parse(body)).toMatchObject({ code: 'SCL_ERR_FORBIDDEN', detail: 'access denied' });
    const event = logs.lines().find((line) => line.msg === 'request denied');
    expect(event).toMatchObject({
      event: 'security',
      reason: 'policy_denied',
      status: 403,
      principal: `${issuer}/alice`,
    });
    expect(logs.raw.join('')).not.toContain(outsider);
  });

  it('denies an anonymous request when an ALLOW policy needs a claim', async () => {
    const { mesh } = setup(designPolicies);
    expect((await invoke(mesh, ok, 'http://o.test/api/orders')).status).toBe(403);
  });

  it('matches hosts case-insensitively and ports from the request URL', async () => {
    const { mesh } = setup([
      { rules: [{ to: [{ operation: { hosts: ['*.example.com'], ports: [8080] } }] }] },
    ]);
    expect((await invoke(mesh, ok, 'http://Orders.EXAMPLE.com:8080/x')).status).toBe(200);
    expect((await invoke(mesh, ok, 'http://orders.example.com/x')).status).toBe(403);
    expect((await invoke(mesh, ok, 'http://orders.example.org:8080/x')).status).toBe(403);
  });

  it('logs the deciding DENY policy by name', async () => {
    const { mesh, logs } = setup([
      { name: 'no-deletes', action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] },
    ]);
    expect((await invoke(mesh, ok, new Request('http://o.test/x', { method: 'DELETE' }))).status).toBe(403);
    expect(logs.withMessage('request denied')[0]).toMatchObject({ policy: 'no-deletes' });
  });

  it('reports every refusal to registered event sinks with its reason and status', async () => {
    const { mesh } = setup(designPolicies);
    const denied: [string, number][] = [];
    const onDenied = (message: unknown) => {
      const { reason, status } = message as DeniedMessage;
      denied.push([reason, status]);
    };
    subscribe('sidecarless:auth:denied', onDenied);
    onTestFinished(() => {
      unsubscribe('sidecarless:auth:denied', onDenied);
    });
    await invoke(mesh, ok, 'http://o.test/api/orders');
    await invoke(
      mesh,
      ok,
      new Request('http://o.test/api/orders', { headers: { authorization: 'Bearer x.y.z' } }),
    );
    expect(denied).toEqual([
      ['policy_denied', 403],
      ['malformed', 401],
    ]);
  });

  it('logs a matching AUDIT policy without denying', async () => {
    const { mesh, logs } = setup(designPolicies);
    const member = await token({ groups: ['functions'] });
    const response = await invoke(
      mesh,
      ok,
      new Request('http://o.test/api/orders', {
        method: 'POST',
        headers: { authorization: `Bearer ${member}` },
        body: '{}',
      }),
    );
    expect(response.status).toBe(200);
    expect(logs.withMessage('audit policy matched')[0]).toMatchObject({
      policy: 'watch-writes',
      action: 'AUDIT',
    });
  });

  it('lets a policy require a scope from the space-delimited scope claim', async () => {
    const { mesh } = setup([
      { rules: [{ when: [{ key: 'request.auth.claims[scope]', values: ['orders:write'] }] }] },
    ]);
    const writer = await token({ scope: 'orders:read orders:write' });
    const reader = await token({ scope: 'orders:read' });
    const send = (t: string) =>
      invoke(mesh, ok, new Request('http://o.test/', { headers: { authorization: `Bearer ${t}` } }));
    expect((await send(writer)).status).toBe(200);
    expect((await send(reader)).status).toBe(403);
  });
});

describe('verified-token cache', () => {
  async function verifier(cacheSize = 1000) {
    const options = normalizeOptions(
      {
        service: 'orders',
        logging: { level: 'silent' },
        auth: {
          jwt: [{ issuer, jwks: { keys: [key.jwk] } }],
          tokenCacheSize: cacheSize,
          clockSkew: 0,
        },
      },
      [auth],
    );
    const noop = { denied() {}, jwksStale() {}, jwksUnavailable() {} };
    const v = new JwtVerifier(
      options.section(auth)!,
      createMesh({ service: 'orders', logging: { level: 'silent' } }).log,
      noop,
    );
    await v.init();
    return v;
  }

  it('answers a repeated token from the cache', async () => {
    const v = await verifier();
    const t = await token();
    const first = await v.verify(t);
    const second = v.verify(t);
    expect(second).toBe(first);
  });

  it('stops accepting a cached token once it expires', async () => {
    const v = await verifier();
    const t = await token({ exp: nowSeconds() + 2 });
    await v.verify(t);
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 5_000);
    expect(() => v.verify(t)).toThrow(TokenError);
  });

  it('keeps at most tokenCacheSize entries', async () => {
    const v = await verifier(2);
    for (const sub of ['a', 'b', 'c']) await v.verify(await token({ sub }));
    expect(v.cachedTokens).toBe(2);
  });
});
