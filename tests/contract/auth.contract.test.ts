/**
 * Inbound auth, the same on every adapter: the contract function runs with an auth-configured
 * mesh (inline JWKS, a DENY and an ALLOW policy), and each platform must answer tokens and
 * policies identically — 401 with an RFC 6750 challenge, 403 naming nothing, identity in ctx.auth.
 */
import type { MeshOptions } from '@sidecarless/core';
import { craftToken, createSigningKey, nowSeconds, type SigningKey } from '@sidecarless/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters } from './adapters/index.ts';
import { type RunningFunction, startWithMeshOptions } from './harness.ts';

const base = 'http://contract.test';
const issuer = 'https://id.contract.test';
const key: SigningKey = createSigningKey('ES256', 'contract-key');

const authOptions: Partial<MeshOptions> = {
  auth: {
    jwt: [{ issuer, jwks: { keys: [key.jwk] }, audiences: ['contract'] }],
    policies: [
      { name: 'no-admin', action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] },
      { name: 'signed-in', action: 'ALLOW', rules: [{ from: [{ source: { requestPrincipals: ['*'] } }] }] },
    ],
  },
};

function token(extra: Record<string, unknown> = {}): Promise<string> {
  return key.sign({
    iss: issuer,
    sub: 'carol',
    aud: 'contract',
    exp: nowSeconds() + 300,
    groups: ['functions'],
    ...extra,
  });
}

function withToken(path: string, value: string): Request {
  return new Request(`${base}${path}`, { headers: { authorization: `Bearer ${value}` } });
}

describe.each(adapters)('auth contract on $name', (adapter) => {
  let fn: RunningFunction;
  beforeAll(async () => {
    fn = await startWithMeshOptions(adapter, authOptions);
  });
  afterAll(async () => {
    await fn?.stop();
  });

  it('gives the handler the verified identity and not the token', async () => {
    const response = await fn.send(withToken('/whoami', await token()));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      principal: `${issuer}/carol`,
      groups: ['functions'],
      peer: null,
      authorization: null,
    });
  });

  it('answers an invalid token with 401 and an invalid_token challenge', async () => {
    const forged = craftToken(
      { alg: 'ES256', kid: 'contract-key' },
      { iss: issuer, sub: 'root', exp: nowSeconds() + 300 },
      'AAAA',
    );
    const response = await fn.send(withToken('/whoami', forged));
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const text = await response.text();
    expect(text).not.toContain(forged);
    expect(JSON.parse(text)).toMatchObject({ status: 401, code: 'SCL_ERR_UNAUTHENTICATED' });
  });

  it('answers an expired token with 401', async () => {
    const response = await fn.send(withToken('/whoami', await token({ exp: nowSeconds() - 3600 })));
    expect(response.status).toBe(401);
  });

  it('answers a request without a token with 403 when a policy needs an identity', async () => {
    const response = await fn.send(new Request(`${base}/whoami`));
    expect(response.status).toBe(403);
  });

  it('answers a denied path with a 403 that names no policy', async () => {
    const response = await fn.send(withToken('/admin/users', await token()));
    expect(response.status).toBe(403);
    const text = await response.text();
    expect(text).not.toContain('no-admin');
    expect(JSON.parse(text)).toMatchObject({
      status: 403,
      code: 'SCL_ERR_FORBIDDEN',
      detail: 'access denied',
    });
  });
});

describe.each(adapters)('auth contract on $name with a required token', (adapter) => {
  let fn: RunningFunction;
  beforeAll(async () => {
    const required: Partial<MeshOptions> = {
      auth: { jwt: [{ issuer, jwks: { keys: [key.jwk] }, audiences: ['contract'], required: true }] },
    };
    fn = await startWithMeshOptions(adapter, required);
  });
  afterAll(async () => {
    await fn?.stop();
  });

  it('answers a request without a token with 401 and a bare Bearer challenge', async () => {
    const response = await fn.send(new Request(`${base}/whoami`));
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    await response.body?.cancel();
  });

  it('answers a good token with 200 and the identity in ctx.auth', async () => {
    const response = await fn.send(withToken('/whoami', await token()));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ principal: `${issuer}/carol` });
  });
});
