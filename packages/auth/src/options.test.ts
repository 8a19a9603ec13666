import { ConfigError, normalizeOptions } from '@sidecarless/core';
import { describe, expect, it } from 'vitest';
import { auth as authFeature } from './index.js';

function problems(auth: unknown): { path: string; message: string }[] {
  try {
    normalizeOptions({ service: 'orders', auth }, [authFeature]);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return [...(error as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

const rule = { issuer: 'https://id.test', jwksUri: 'https://id.test/jwks' };

describe('auth options', () => {
  it('applies Istio defaults to a minimal rule', () => {
    const auth = normalizeOptions({ service: 'orders', auth: { jwt: [rule] } }, [authFeature]).section(
      authFeature,
    )!;
    expect(auth.jwt[0]).toMatchObject({
      fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }],
      forwardOriginalToken: false,
      required: false,
      spaceDelimitedClaims: ['scope', 'scp'],
    });
    expect(auth.jwt[0]!.algorithms).not.toContain('HS256');
    expect(auth.clockSkewMs).toBe(60_000);
  });

  it('leaves auth undefined when the section is absent', () => {
    expect(normalizeOptions({ service: 'orders' }, [authFeature]).section(authFeature)).toBeUndefined();
  });

  it.each([
    [{ jwt: [{ ...rule, issuerr: 'x' }] }, 'auth.jwt[0].issuerr', /did you mean "issuer"/],
    [{ jwt: [{ jwksUri: rule.jwksUri }] }, 'auth.jwt[0].issuer', /required/],
    [{ jwt: [{ issuer: 'https://id.test' }] }, 'auth.jwt[0]', /needs keys/],
    [{ jwt: [{ ...rule, jwksUri: 'ftp://id.test/jwks' }] }, 'auth.jwt[0].jwksUri', /http\(s\) URL/],
    [{ jwt: [{ ...rule, jwks: '{not json' }] }, 'auth.jwt[0].jwks', /not valid JSON/],
    [{ jwt: [{ ...rule, algorithms: ['none'] }] }, 'auth.jwt[0].algorithms[0]', /never accepted/],
    [{ jwt: [{ ...rule, algorithms: ['HS256'] }] }, 'auth.jwt[0].algorithms', /needs sharedSecret/],
    [{ jwt: [{ ...rule, sharedSecret: 'short' }] }, 'auth.jwt[0].sharedSecret', /at least 32/],
    [
      { jwt: [{ ...rule, fromHeaders: [{ prefix: 'Bearer ' }] }] },
      'auth.jwt[0].fromHeaders[0].name',
      /required/,
    ],
    [
      { jwt: [{ ...rule, outputPayloadToHeader: 'bad header' }] },
      'auth.jwt[0].outputPayloadToHeader',
      /header name/,
    ],
    [
      { jwt: [{ ...rule, outputClaimToHeaders: [{ header: 'x-sub' }] }] },
      'auth.jwt[0].outputClaimToHeaders[0].claim',
      /required/,
    ],
    [{ jwt: [{ ...rule, timeout: 'soon' }] }, 'auth.jwt[0].timeout', /not a duration/],
    [{ jwt: [rule, rule] }, 'auth.jwt[1].issuer', /configured twice/],
    [
      { policies: [{ action: 'CUSTOM', provider: { name: 'opa' } }] },
      'auth.policies[0].action',
      /CUSTOM.*not supported/,
    ],
    [
      { policies: [{ action: 'ALLOW', selector: { matchLabels: { app: 'x' } } }] },
      'auth.policies[0].selector',
      /not supported/,
    ],
    [{ policies: [{ action: 'PERMIT' }] }, 'auth.policies[0].action', /not allowed/],
    [
      { policies: [{ rules: [{ from: [{ source: { principal: ['x'] } }] }] }] },
      'auth.policies[0].rules[0].from[0].source.principal',
      /did you mean "principals"/,
    ],
    [
      { policies: [{ rules: [{ to: [{ operation: { paths: [] } }] }] }] },
      'auth.policies[0].rules[0].to[0].operation.paths',
      /empty list/,
    ],
    [
      { policies: [{ rules: [{ to: [{ operation: { ports: ['http'] } }] }] }] },
      'auth.policies[0].rules[0].to[0].operation.ports[0]',
      /not a port/,
    ],
    [
      { policies: [{ rules: [{ from: [{ source: { ipBlocks: ['10.0.0.0/33'] } }] }] }] },
      'auth.policies[0].rules[0].from[0].source.ipBlocks[0]',
      /CIDR/,
    ],
    [
      { policies: [{ rules: [{ when: [{ key: 'request.time', values: ['x'] }] }] }] },
      'auth.policies[0].rules[0].when[0].key',
      /not a supported condition key/,
    ],
    [
      { policies: [{ rules: [{ when: [{ key: 'source.ip' }] }] }] },
      'auth.policies[0].rules[0].when[0]',
      /needs values or notValues/,
    ],
    [
      { policies: [{ rules: [{ to: [{ operations: {} }] }] }] },
      'auth.policies[0].rules[0].to[0].operations',
      /did you mean "operation"/,
    ],
    [
      { peerAuthentication: { mtls: { mode: 'DISABLE' } } },
      'auth.peerAuthentication.mtls.mode',
      /not supported/,
    ],
    [{ peerAuthentication: { mtls: { mode: 'strict' } } }, 'auth.peerAuthentication.mtls.mode', /STRICT/],
    [{ peerAuthentication: { trustBundle: 'not a pem' } }, 'auth.peerAuthentication.trustBundle', /PEM/],
    [
      { peerAuthentication: { portLevelMtls: {} } },
      'auth.peerAuthentication.portLevelMtls',
      /unknown option/,
    ],
    [{ trustedProxies: ['proxy.local'] }, 'auth.trustedProxies[0]', /CIDR/],
    [{ maxTokenSize: 10 }, 'auth.maxTokenSize', /whole number/],
  ])('refuses %j at %s', (auth, path, message) => {
    const found = problems(auth).find((issue) => issue.path === path);
    expect(found, JSON.stringify(problems(auth))).toBeDefined();
    expect(found!.message).toMatch(message);
  });

  it('never echoes a shared secret in an error', () => {
    const secret = 'super-secret-value-that-is-long-enough-1234';
    const issues = problems({
      jwt: [{ issuer: 'https://id.test', sharedSecret: secret, algorithms: ['XS256'] }],
    });
    expect(JSON.stringify(issues)).not.toContain(secret);
  });

  it('accepts Istio-shaped and shorthand rules alike', () => {
    const auth = normalizeOptions(
      {
        service: 'orders',
        auth: {
          policies: [
            {
              name: 'istio',
              rules: [
                { from: [{ source: { namespaces: ['shop'] } }], to: [{ operation: { methods: ['get'] } }] },
              ],
            },
            {
              name: 'short',
              rules: [{ from: [{ namespaces: ['shop'] }], to: [{ methods: ['GET'], paths: ['/api/*'] }] }],
            },
          ],
        },
      },
      [authFeature],
    ).section(authFeature)!;
    expect(auth.policies[0]!.rules[0]!.to).toEqual([{ methods: ['GET'] }]);
    expect(auth.policies[1]!.rules[0]!.from).toEqual([{ namespaces: ['shop'] }]);
  });
});
