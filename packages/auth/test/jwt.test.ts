/**
 * JWT authentication through a real mesh: real keys, real tokens signed by jose, a real JWKS
 * server on 127.0.0.1. Each attack class is its own test.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createMesh, type HttpHandler, type Mesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import {
  type CapturedLogs,
  captureLogs,
  craftToken,
  createSigningKey,
  type JwksServer,
  nowSeconds,
  type SigningKey,
  startJwksServer,
} from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthOptions, JwksMessage } from '../src/index.ts';
import { auth } from '../src/index.ts';

const issuer = 'https://id.example.test';
const url = 'http://orders.test/api/orders';

let rsa: SigningKey;
let es: SigningKey;
let ed: SigningKey;
let jwks: JwksServer;
const meshes: Mesh[] = [];

beforeAll(async () => {
  rsa = createSigningKey('RS256', 'rsa-1');
  es = createSigningKey('ES256', 'ec-1');
  ed = createSigningKey('EdDSA', 'ed-1');
  jwks = await startJwksServer([rsa.jwk, es.jwk, ed.jwk]);
});
afterAll(async () => {
  await jwks.close();
});
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
});

function claims(extra: Record<string, unknown> = {}) {
  return { iss: issuer, sub: 'alice', aud: 'orders', exp: nowSeconds() + 300, iat: nowSeconds(), ...extra };
}

function setup(section: Partial<AuthOptions> & { rule?: Record<string, unknown> } = {}): {
  mesh: Mesh;
  logs: CapturedLogs;
} {
  const logs = captureLogs();
  const { rule, ...rest } = section;
  const mesh = createMesh(
    {
      service: 'orders',
      logging: { destination: logs.destination, level: 'debug' },
      auth: { jwt: [{ issuer, jwksUri: jwks.url, audiences: ['orders'], ...rule }], ...rest } as AuthOptions,
    },
    [auth],
  );
  meshes.push(mesh);
  return { mesh, logs };
}

const whoami: HttpHandler = (request, ctx) =>
  Response.json({
    auth: ctx.auth ?? null,
    authorization: request.headers.get('authorization'),
    cookie: request.headers.get('cookie'),
    url: request.url,
    sub: request.headers.get('x-jwt-sub'),
    payload: request.headers.get('x-jwt-payload'),
  });

function bearer(token: string, extra: Record<string, string> = {}): Request {
  return new Request(url, { headers: { authorization: `Bearer ${token}`, ...extra } });
}

async function expectInvalid(mesh: Mesh, token: string, logs?: CapturedLogs): Promise<void> {
  const response = await invoke(mesh, whoami, bearer(token));
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  const body = await response.text();
  expect(body).not.toContain(token);
  if (logs) expect(logs.raw.join('')).not.toContain(token);
}

describe('valid tokens', () => {
  it.each(['RS256', 'ES256', 'EdDSA'])('accepts a %s token and sets ctx.auth', async (alg) => {
    const { mesh } = setup();
    const key = { RS256: rsa, ES256: es, EdDSA: ed }[alg]!;
    const token = await key.sign(claims({ groups: ['admins'] }));
    const response = await invoke(mesh, whoami, bearer(token));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { auth: Record<string, unknown>; authorization: unknown };
    expect(body.auth).toMatchObject({
      issuer,
      subject: 'alice',
      audiences: ['orders'],
      principal: `${issuer}/alice`,
      claims: { groups: ['admins'] },
    });
    expect(body.authorization).toBeNull();
  });

  it('accepts an audience given as an array', async () => {
    const { mesh } = setup();
    const response = await invoke(
      mesh,
      whoami,
      bearer(await rsa.sign(claims({ aud: ['billing', 'orders'] }))),
    );
    expect(response.status).toBe(200);
  });

  it('fetches the JWKS at ready(), before the first request', async () => {
    const before = jwks.fetches;
    const { mesh } = setup();
    await mesh.ready();
    expect(jwks.fetches).toBe(before + 1);
    await invoke(mesh, whoami, bearer(await rsa.sign(claims())));
    expect(jwks.fetches).toBe(before + 1);
  });
});

describe('missing tokens', () => {
  it('passes a request without a token with no identity', async () => {
    const { mesh } = setup();
    const response = await invoke(mesh, whoami, url);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { auth: unknown }).auth).toBeNull();
  });

  it('answers 401 with a bare Bearer challenge when the rule is required', async () => {
    const { mesh, logs } = setup({ rule: { required: true } });
    const response = await invoke(mesh, whoami, url);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(logs.lines().some((line) => line.event === 'security' && line.reason === 'token_missing')).toBe(
      true,
    );
  });

  it('treats a non-Bearer authorization header as no token', async () => {
    const { mesh } = setup({ rule: { required: true } });
    const response = await invoke(
      mesh,
      whoami,
      new Request(url, { headers: { authorization: 'Basic YWxpY2U6cHc=' } }),
    );
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });
});

describe('attacks and invalid tokens', () => {
  it('refuses alg "none"', async () => {
    const { mesh, logs } = setup();
    const token = craftToken({ alg: 'none', kid: 'rsa-1' }, claims(), '');
    await expectInvalid(mesh, `${token}`, logs);
  });

  it('refuses an HMAC token keyed with the RSA public key (algorithm confusion)', async () => {
    const { mesh } = setup();
    const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'rsa-1' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims())).toString('base64url');
    const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
    const mac = createHmac('sha256', pem).update(`${header}.${payload}`).digest('base64url');
    await expectInvalid(mesh, `${header}.${payload}.${mac}`);
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const { mesh } = setup();
    const [h, , s] = (await rsa.sign(claims())).split('.');
    const forged = Buffer.from(JSON.stringify(claims({ sub: 'root' }))).toString('base64url');
    await expectInvalid(mesh, `${h}.${forged}.${s}`);
  });

  it('refuses a token signed by a key the issuer never published', async () => {
    const { mesh } = setup();
    const rogue = createSigningKey('RS256', 'rsa-1');
    await expectInvalid(mesh, await rogue.sign(claims()));
  });

  it('refuses an expired token', async () => {
    const { mesh, logs } = setup();
    await expectInvalid(mesh, await rsa.sign(claims({ exp: nowSeconds() - 120 })));
    expect(logs.lines().some((line) => line.reason === 'expired')).toBe(true);
  });

  it('accepts a token expired within the clock skew', async () => {
    const { mesh } = setup();
    const response = await invoke(mesh, whoami, bearer(await rsa.sign(claims({ exp: nowSeconds() - 10 }))));
    expect(response.status).toBe(200);
  });

  it('refuses a token without exp', async () => {
    const { mesh } = setup();
    const { exp: _exp, ...noExp } = claims();
    await expectInvalid(mesh, await rsa.sign(noExp));
  });

  it('refuses a token not valid before a time beyond the skew', async () => {
    const { mesh } = setup();
    await expectInvalid(mesh, await rsa.sign(claims({ nbf: nowSeconds() + 600 })));
  });

  it('refuses a token issued in the future beyond the skew', async () => {
    const { mesh } = setup();
    await expectInvalid(mesh, await rsa.sign(claims({ iat: nowSeconds() + 600 })));
  });

  it('refuses a token from another issuer', async () => {
    const { mesh } = setup();
    await expectInvalid(mesh, await rsa.sign(claims({ iss: 'https://evil.test' })));
  });

  it('refuses a token for another audience', async () => {
    const { mesh } = setup();
    await expectInvalid(mesh, await rsa.sign(claims({ aud: ['billing'] })));
  });

  it('refuses a token with a crit header it does not understand', async () => {
    const { mesh } = setup();
    // Signed correctly with a published key: only the crit header is wrong.
    const token = rsa.signRaw({ alg: 'RS256', kid: 'rsa-1', crit: ['x-custom'], 'x-custom': true }, claims());
    await expectInvalid(mesh, token);
    expect(
      (await invoke(mesh, whoami, bearer(rsa.signRaw({ alg: 'RS256', kid: 'rsa-1' }, claims())))).status,
    ).toBe(200);
  });

  it('never follows jku or x5u to an attacker-controlled key set', async () => {
    const attacker = createSigningKey('RS256', 'attacker');
    const attackerJwks = await startJwksServer([attacker.jwk]);
    try {
      const { mesh } = setup();
      await expectInvalid(
        mesh,
        await attacker.sign(claims(), { jku: attackerJwks.url, x5u: attackerJwks.url }),
      );
      expect(attackerJwks.fetches).toBe(0);
    } finally {
      await attackerJwks.close();
    }
  });

  it('never trusts a key embedded in the token header', async () => {
    const { mesh } = setup();
    const attacker = createSigningKey('ES256', 'ec-1');
    await expectInvalid(mesh, await attacker.sign(claims(), { jwk: attacker.jwk }));
  });

  it('refuses a token longer than maxTokenSize', async () => {
    const { mesh } = setup({ maxTokenSize: 1024 });
    await expectInvalid(mesh, await rsa.sign(claims({ padding: 'x'.repeat(2000) })));
  });

  it('refuses base64 padding and whitespace inside the token', async () => {
    const { mesh } = setup();
    const token = await rsa.sign(claims());
    const [h, p, s] = token.split('.');
    await expectInvalid(mesh, `${h}=.${p}.${s}`);
    await expectInvalid(mesh, `${h}.${p} .${s}`);
    await expectInvalid(mesh, `${h}.${p}.${s}.`);
  });

  it('refuses a token whose key in the JWKS is a too-short RSA key, with 401 not 500', async () => {
    const weak = createSigningKey('RS256-1024', 'weak');
    const server = await startJwksServer([weak.jwk]);
    try {
      const logs = captureLogs();
      const mesh = createMesh(
        {
          service: 'orders',
          logging: { destination: logs.destination },
          auth: { jwt: [{ issuer, jwksUri: server.url }] },
        },
        [auth],
      );
      meshes.push(mesh);
      await expectInvalid(mesh, weak.signRaw({ alg: 'RS256', kid: 'weak' }, claims()));
      expect(logs.lines().some((line) => String(line.msg).includes('at least 2048 bits'))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('refuses an ES256 signature in DER form instead of JOSE r||s', async () => {
    const { mesh } = setup();
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: 'ec-1' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims())).toString('base64url');
    const { sign } = await import('node:crypto');
    const der = sign('sha256', Buffer.from(`${header}.${payload}`), es.privateKey);
    await expectInvalid(mesh, `${header}.${payload}.${der.toString('base64url')}`);
  });

  it('refuses HMAC tokens unless a shared secret is configured', async () => {
    const { mesh } = setup();
    const token = craftToken({ alg: 'HS256' }, claims(), 'AAAA');
    await expectInvalid(mesh, token);
  });

  it('accepts HMAC tokens signed with the configured shared secret', async () => {
    const secret = 'a-shared-secret-of-at-least-32-characters!';
    const logs = captureLogs();
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        auth: { jwt: [{ issuer, sharedSecret: secret }] },
      },
      [auth],
    );
    meshes.push(mesh);
    const header = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims())).toString('base64url');
    const mac = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    expect((await invoke(mesh, whoami, bearer(`${header}.${payload}.${mac}`))).status).toBe(200);
  });

  it('refuses two different tokens in one request', async () => {
    const { mesh } = setup({
      rule: { fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }], fromCookies: ['session'] },
    });
    const first = await rsa.sign(claims());
    const second = await rsa.sign(claims({ sub: 'bob' }));
    const response = await invoke(mesh, whoami, bearer(first, { cookie: `session=${second}` }));
    expect(response.status).toBe(401);
  });

  it('logs a security event with the reason and never the token', async () => {
    const { mesh, logs } = setup();
    const token = await rsa.sign(claims({ exp: nowSeconds() - 3600 }));
    await invoke(mesh, whoami, bearer(token));
    const event = logs.lines().find((line) => line.event === 'security');
    expect(event).toMatchObject({ reason: 'expired', status: 401, msg: 'request unauthenticated' });
    expect(logs.raw.join('')).not.toContain(token.split('.')[2]);
  });
});

describe('JWKS lifecycle', () => {
  it('picks up a rotated key on an unknown kid', async () => {
    const server = await startJwksServer([rsa.jwk]);
    try {
      const mesh = createMesh(
        {
          service: 'orders',
          logging: { level: 'silent' },
          auth: { jwt: [{ issuer, jwksUri: server.url, jwksRefreshCooldown: 0 }] },
        },
        [auth],
      );
      meshes.push(mesh);
      await mesh.ready();
      const rotated = createSigningKey('ES256', 'rotated');
      server.setKeys([rotated.jwk]);
      const response = await invoke(mesh, whoami, bearer(await rotated.sign(claims())));
      expect(response.status).toBe(200);
      expect(server.fetches).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('refreshes at most once per cooldown however many unknown kids arrive', async () => {
    const server = await startJwksServer([rsa.jwk]);
    try {
      const mesh = createMesh(
        {
          service: 'orders',
          logging: { level: 'silent' },
          auth: { jwt: [{ issuer, jwksUri: server.url, jwksRefreshCooldown: '400ms' }] },
        },
        [auth],
      );
      meshes.push(mesh);
      await mesh.ready();
      // Within the cooldown of the init fetch: no refresh at all.
      const early = createSigningKey('EdDSA', randomUUID());
      expect((await invoke(mesh, whoami, bearer(await early.sign(claims())))).status).toBe(401);
      expect(server.fetches).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 450));
      for (let i = 0; i < 20; i++) {
        const sprayed = createSigningKey('EdDSA', randomUUID());
        const response = await invoke(mesh, whoami, bearer(await sprayed.sign(claims())));
        expect(response.status).toBe(401);
      }
      expect(server.fetches).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('refuses tokens while the issuer is dead at init, then recovers', async () => {
    const server = await startJwksServer([rsa.jwk]);
    server.setDown(true);
    try {
      const logs = captureLogs();
      const mesh = createMesh(
        {
          service: 'orders',
          logging: { destination: logs.destination },
          auth: { jwt: [{ issuer, jwksUri: server.url, jwksRefreshCooldown: 0 }] },
        },
        [auth],
      );
      meshes.push(mesh);
      await mesh.ready();
      expect(
        logs.lines().some((line) => line.level === 'error' && String(line.msg).includes('JWKS fetch failed')),
      ).toBe(true);
      const token = await rsa.sign(claims());
      expect((await invoke(mesh, whoami, bearer(token))).status).toBe(401);
      server.setDown(false);
      expect((await invoke(mesh, whoami, bearer(token))).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('serves stale keys when the issuer goes down, with a log line and the metric hook', async () => {
    const server = await startJwksServer([rsa.jwk]);
    try {
      const logs = captureLogs();
      const mesh = createMesh(
        {
          service: 'orders',
          logging: { destination: logs.destination },
          auth: { jwt: [{ issuer, jwksUri: server.url, jwksMaxAge: 1, jwksRefreshCooldown: 0 }] },
        },
        [auth],
      );
      meshes.push(mesh);
      const stale: string[] = [];
      const { subscribe } = await import('node:diagnostics_channel');
      subscribe('sidecarless:auth:jwks', (message) => {
        const { issuer, state } = message as JwksMessage;
        if (state === 'stale') stale.push(issuer);
      });
      await mesh.ready();
      server.setDown(true);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const token = await rsa.sign(claims());
      expect((await invoke(mesh, whoami, bearer(token))).status).toBe(200);
      await expect.poll(() => stale.length).toBeGreaterThan(0);
      expect(stale[0]).toBe(issuer);
      expect(
        logs
          .lines()
          .some((line) => line.level === 'warn' && String(line.msg).includes('serving the keys we have')),
      ).toBe(true);
      expect((await invoke(mesh, whoami, bearer(await rsa.sign(claims({ sub: 'bob' }))))).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('gives up on a slow issuer after the fetch timeout', async () => {
    const server = await startJwksServer([rsa.jwk]);
    server.setDelay(2_000);
    try {
      const logs = captureLogs();
      const mesh = createMesh(
        {
          service: 'orders',
          logging: { destination: logs.destination },
          auth: { jwt: [{ issuer, jwksUri: server.url, timeout: '100ms' }] },
        },
        [auth],
      );
      meshes.push(mesh);
      const started = Date.now();
      await mesh.ready();
      expect(Date.now() - started).toBeLessThan(1_500);
      expect(logs.lines().some((line) => String(line.reason).includes('timed out after 100 ms'))).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('token locations and request rewriting', () => {
  it('keeps the token for the handler when forwardOriginalToken is true', async () => {
    const { mesh } = setup({ rule: { forwardOriginalToken: true } });
    const token = await rsa.sign(claims());
    const body = (await (await invoke(mesh, whoami, bearer(token))).json()) as { authorization: string };
    expect(body.authorization).toBe(`Bearer ${token}`);
  });

  it('copies claims and the payload into headers and drops forged ones', async () => {
    const { mesh } = setup({
      rule: {
        outputClaimToHeaders: [{ header: 'x-jwt-sub', claim: 'sub' }],
        outputPayloadToHeader: 'x-jwt-payload',
      },
    });
    const token = await rsa.sign(claims());
    const verified = (await (
      await invoke(mesh, whoami, bearer(token, { 'x-jwt-sub': 'forged' }))
    ).json()) as { sub: string; payload: string };
    expect(verified.sub).toBe('alice');
    expect(JSON.parse(Buffer.from(verified.payload, 'base64url').toString('utf8'))).toMatchObject({
      sub: 'alice',
    });
    const anonymous = (await (
      await invoke(mesh, whoami, new Request(url, { headers: { 'x-jwt-sub': 'forged' } }))
    ).json()) as { sub: unknown };
    expect(anonymous.sub).toBeNull();
  });

  it('reads the token from a query parameter and removes it', async () => {
    const { mesh } = setup({ rule: { fromParams: ['access_token'] } });
    const token = await rsa.sign(claims());
    const body = (await (await invoke(mesh, whoami, `${url}?access_token=${token}&page=2`)).json()) as {
      auth: unknown;
      url: string;
    };
    expect(body.auth).not.toBeNull();
    expect(body.url).toBe(`${url}?page=2`);
  });

  it('reads the token from a cookie and removes only that cookie', async () => {
    const { mesh } = setup({ rule: { fromCookies: ['session'] } });
    const token = await rsa.sign(claims());
    const body = (await (
      await invoke(mesh, whoami, new Request(url, { headers: { cookie: `theme=dark; session=${token}` } }))
    ).json()) as { auth: unknown; cookie: string };
    expect(body.auth).not.toBeNull();
    expect(body.cookie).toBe('theme=dark');
  });
});
