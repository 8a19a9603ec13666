import { type AuthInfo, normalizeOptions, type PeerIdentity } from '@sidecarless/core';
import { describe, expect, it } from 'vitest';
import { auth } from './index.js';
import type { AuthorizationPolicy } from './options.js';
import { compilePolicies, type RequestAttributes, stringMatcher } from './policy.js';

function evaluator(policies: AuthorizationPolicy[]) {
  const options = normalizeOptions({ service: 'orders', auth: { policies } }, [auth]);
  return compilePolicies(options.section(auth)!.policies, new Set(['scope', 'scp']));
}

const alice: AuthInfo = {
  issuer: 'https://id.test',
  subject: 'alice',
  audiences: ['orders', 'billing'],
  principal: 'https://id.test/alice',
  claims: {
    groups: ['functions', 'ops'],
    scope: 'orders:read orders:write',
    realm: { role: 'admin' },
    azp: 'web',
  },
};
const inventory: PeerIdentity = {
  principal: 'cluster.local/ns/shop/sa/inventory',
  spiffeId: 'spiffe://cluster.local/ns/shop/sa/inventory',
  namespace: 'shop',
  source: 'tls',
};

function request(overrides: Partial<RequestAttributes> = {}): RequestAttributes {
  const headers = new Headers({ 'x-tenant': 'acme' });
  return {
    method: 'GET',
    path: '/api/orders',
    host: 'orders.example.com',
    port: '443',
    headers,
    auth: alice,
    peer: inventory,
    sourceIp: '10.1.2.3',
    remoteIp: '203.0.113.9',
    ...overrides,
  };
}

describe('string matching', () => {
  it('matches exact, prefix, suffix and presence patterns as Istio does', () => {
    expect(stringMatcher('/api/*')('/api/orders')).toBe(true);
    expect(stringMatcher('/api/*')('/apiary')).toBe(false);
    expect(stringMatcher('*.html')('/index.html')).toBe(true);
    expect(stringMatcher('*')('x')).toBe(true);
    expect(stringMatcher('*')('')).toBe(false);
    expect(stringMatcher('/exact')('/exact/')).toBe(false);
    expect(stringMatcher('Orders.Example.com', true)('orders.example.COM')).toBe(true);
  });
});

describe('evaluation order', () => {
  it('allows everything when there are no ALLOW policies and no DENY matches', () => {
    expect(
      evaluator([{ action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] }])(request())
        .allowed,
    ).toBe(true);
  });

  it('denies when a DENY policy matches even if an ALLOW policy also matches', () => {
    const decision = evaluator([
      { name: 'allow-all', action: 'ALLOW', rules: [{}] },
      { name: 'no-admin', action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] },
    ])(request({ path: '/admin/users' }));
    expect(decision).toMatchObject({ allowed: false, policy: 'no-admin' });
  });

  it('denies when ALLOW policies exist and none matches', () => {
    const decision = evaluator([{ name: 'only-get', rules: [{ to: [{ methods: ['GET'] }] }] }])(
      request({ method: 'POST' }),
    );
    expect(decision).toMatchObject({ allowed: false, policy: undefined });
  });

  it('allows by the first ALLOW policy that matches and names it', () => {
    const decision = evaluator([
      { name: 'posts', rules: [{ to: [{ methods: ['POST'] }] }] },
      { name: 'gets', rules: [{ to: [{ methods: ['GET'] }] }] },
    ])(request());
    expect(decision).toMatchObject({ allowed: true, policy: 'gets' });
  });

  it('treats an ALLOW policy without rules as allowing nothing', () => {
    expect(evaluator([{ name: 'allow-nothing', action: 'ALLOW' }])(request()).allowed).toBe(false);
  });

  it('reports matching AUDIT policies without changing the decision', () => {
    const decision = evaluator([
      {
        name: 'watch-admins',
        action: 'AUDIT',
        rules: [{ when: [{ key: 'request.auth.claims[groups]', values: ['ops'] }] }],
      },
    ])(request());
    expect(decision).toMatchObject({ allowed: true, audited: ['watch-admins'] });
  });
});

describe('source fields', () => {
  const allowFrom = (source: Record<string, string[]>) => evaluator([{ rules: [{ from: [{ source }] }] }]);

  it('matches principals, requestPrincipals and namespaces with their not twins', () => {
    expect(allowFrom({ principals: ['cluster.local/ns/shop/sa/*'] })(request()).allowed).toBe(true);
    expect(
      allowFrom({ principals: ['cluster.local/ns/shop/sa/*'] })(request({ peer: undefined })).allowed,
    ).toBe(false);
    expect(allowFrom({ notPrincipals: ['*'] })(request({ peer: undefined })).allowed).toBe(true);
    expect(allowFrom({ requestPrincipals: ['https://id.test/*'] })(request()).allowed).toBe(true);
    expect(allowFrom({ requestPrincipals: ['*'] })(request({ auth: undefined })).allowed).toBe(false);
    expect(allowFrom({ notRequestPrincipals: ['https://id.test/alice'] })(request()).allowed).toBe(false);
    expect(allowFrom({ namespaces: ['shop'] })(request()).allowed).toBe(true);
    expect(allowFrom({ notNamespaces: ['shop'] })(request()).allowed).toBe(false);
  });

  it('matches ipBlocks on the direct peer and remoteIpBlocks on the original client', () => {
    expect(allowFrom({ ipBlocks: ['10.0.0.0/8'] })(request()).allowed).toBe(true);
    expect(allowFrom({ ipBlocks: ['10.0.0.0/8'] })(request({ sourceIp: '192.168.1.1' })).allowed).toBe(false);
    expect(allowFrom({ notIpBlocks: ['10.1.2.3'] })(request()).allowed).toBe(false);
    expect(allowFrom({ remoteIpBlocks: ['203.0.113.0/24'] })(request()).allowed).toBe(true);
    expect(allowFrom({ notRemoteIpBlocks: ['203.0.113.0/24'] })(request()).allowed).toBe(false);
    expect(allowFrom({ ipBlocks: ['2001:db8::/32'] })(request({ sourceIp: '2001:db8::1' })).allowed).toBe(
      true,
    );
    expect(allowFrom({ ipBlocks: ['10.0.0.0/8'] })(request({ sourceIp: '::ffff:10.9.9.9' })).allowed).toBe(
      true,
    );
  });

  it('requires every field of one source and any of several sources', () => {
    const policy = evaluator([
      {
        rules: [
          {
            from: [
              { source: { namespaces: ['shop'], ipBlocks: ['192.168.0.0/16'] } },
              { source: { requestPrincipals: ['https://id.test/alice'] } },
            ],
          },
        ],
      },
    ]);
    expect(policy(request()).allowed).toBe(true);
    expect(policy(request({ auth: undefined })).allowed).toBe(false);
  });
});

describe('operation fields', () => {
  const allowTo = (operation: Record<string, unknown>) => evaluator([{ rules: [{ to: [{ operation }] }] }]);

  it('matches methods, paths, hosts and ports with their not twins', () => {
    expect(allowTo({ methods: ['get'] })(request()).allowed).toBe(true);
    expect(allowTo({ notMethods: ['GET'] })(request()).allowed).toBe(false);
    expect(allowTo({ paths: ['/api/*'] })(request()).allowed).toBe(true);
    expect(allowTo({ paths: ['*/orders'] })(request()).allowed).toBe(true);
    expect(allowTo({ notPaths: ['/api/*'] })(request()).allowed).toBe(false);
    expect(allowTo({ hosts: ['*.EXAMPLE.com'] })(request()).allowed).toBe(true);
    expect(allowTo({ notHosts: ['orders.example.com'] })(request()).allowed).toBe(false);
    expect(allowTo({ ports: [443] })(request()).allowed).toBe(true);
    expect(allowTo({ notPorts: ['443'] })(request()).allowed).toBe(false);
  });
});

describe('when conditions', () => {
  const allowWhen = (key: string, values?: string[], notValues?: string[]) =>
    evaluator([
      { rules: [{ when: [{ key, ...(values ? { values } : {}), ...(notValues ? { notValues } : {}) }] }] },
    ]);

  it('matches array claims, nested claims and space-delimited scopes', () => {
    expect(allowWhen('request.auth.claims[groups]', ['functions'])(request()).allowed).toBe(true);
    expect(allowWhen('request.auth.claims[groups]', ['nobody'])(request()).allowed).toBe(false);
    expect(allowWhen('request.auth.claims[realm][role]', ['admin'])(request()).allowed).toBe(true);
    expect(allowWhen('request.auth.claims[scope]', ['orders:write'])(request()).allowed).toBe(true);
    expect(allowWhen('request.auth.claims[scope]', ['orders:*'])(request()).allowed).toBe(true);
    expect(allowWhen('request.auth.claims[groups]', undefined, ['ops'])(request()).allowed).toBe(false);
    expect(
      allowWhen('request.auth.claims[groups]', ['functions'])(request({ auth: undefined })).allowed,
    ).toBe(false);
  });

  it('matches principal, audiences, presenter, headers and source keys', () => {
    expect(allowWhen('request.auth.principal', ['https://id.test/alice'])(request()).allowed).toBe(true);
    expect(allowWhen('request.auth.audiences', ['billing'])(request()).allowed).toBe(true);
    expect(allowWhen('request.auth.presenter', ['web'])(request()).allowed).toBe(true);
    expect(allowWhen('request.headers[X-Tenant]', ['acme'])(request()).allowed).toBe(true);
    expect(allowWhen('request.headers[x-tenant]', undefined, ['acme'])(request()).allowed).toBe(false);
    expect(allowWhen('source.ip', ['10.1.0.0/16'])(request()).allowed).toBe(true);
    expect(allowWhen('remote.ip', ['203.0.113.9'])(request()).allowed).toBe(true);
    expect(allowWhen('source.principal', ['cluster.local/ns/shop/sa/inventory'])(request()).allowed).toBe(
      true,
    );
    expect(allowWhen('source.namespace', ['payments'])(request()).allowed).toBe(false);
  });
});

describe('fail closed', () => {
  it('denies when evaluation throws', () => {
    const evaluate = evaluator([
      { name: 'headers', rules: [{ when: [{ key: 'request.headers[x-a]', values: ['1'] }] }] },
    ]);
    const broken = request({
      headers: {
        get() {
          throw new Error('broken');
        },
      },
    });
    expect(evaluate(broken)).toMatchObject({ allowed: false });
  });
});
