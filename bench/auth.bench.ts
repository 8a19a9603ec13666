/**
 * What inbound auth costs per request.
 *
 * 1. Verifying a JWT, per algorithm (RS256, ES256, EdDSA): raw `jose.jwtVerify` (what a user
 *    would write), our verifier with the cache off (every request pays the full check — the cost
 *    of a token's first verification), our verifier with the cache on (a repeated token), and the
 *    whole local-adapter invocation with auth on and a cached token.
 * 2. Evaluating ten authorization rules (DENY, ALLOW and AUDIT policies with sources, operations
 *    and claim conditions) for one request.
 *
 * The verifier and the policy evaluator are internal, so they are loaded from the built files
 * (`pnpm bench` builds first); the invocation goes through the public API.
 */
import { generateKeyPairSync, type KeyObject, randomUUID } from 'node:crypto';
import { auth } from '@sidecarless/auth';
import { createMesh, type HttpHandler, normalizeOptions } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { type JWK, jwtVerify, SignJWT } from 'jose';
// biome-ignore lint/style/noRestrictedImports: this bench times the verifier alone, which has no public entry point; the invocation rows go through the public API.
import { JwtVerifier } from '../packages/auth/dist/esm/jwt.js';
// biome-ignore lint/style/noRestrictedImports: the policy evaluator alone, as above.
import { compilePolicies } from '../packages/auth/dist/esm/policy.js';
import { compare, printComparison, printTable, times, us } from './lib.ts';

const issuer = 'https://id.bench.test';
const noEvents = { denied() {}, jwksStale() {}, jwksUnavailable() {} };

function keyPair(alg: string): { privateKey: KeyObject; publicKey: KeyObject } {
  if (alg === 'RS256') return generateKeyPairSync('rsa', { modulusLength: 2048 });
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return generateKeyPairSync('ed25519');
}

async function verifierFor(jwk: JWK, cacheSize: number): Promise<JwtVerifier> {
  const options = normalizeOptions(
    {
      service: 'bench',
      logging: { level: 'silent' },
      auth: { jwt: [{ issuer, jwks: { keys: [jwk] }, audiences: ['orders'] }], tokenCacheSize: cacheSize },
    },
    [auth],
  );
  const verifier = new JwtVerifier(
    options.section(auth)!,
    createMesh({ service: 'bench', logging: { level: 'silent' } }).log,
    noEvents,
  );
  await verifier.init();
  return verifier;
}

const summary: string[][] = [];

for (const alg of ['RS256', 'ES256', 'EdDSA']) {
  const { privateKey, publicKey } = keyPair(alg);
  const kid = randomUUID();
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  const token = await new SignJWT({ sub: 'alice', groups: ['functions'], scope: 'orders:read orders:write' })
    .setProtectedHeader({ alg, kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience('orders')
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(privateKey);

  const uncached = await verifierFor(jwk, 0);
  const cached = await verifierFor(jwk, 1000);
  const mesh = createMesh(
    {
      service: 'bench',
      logging: { level: 'silent' },
      auth: { jwt: [{ issuer, jwks: { keys: [jwk] }, audiences: ['orders'], forwardOriginalToken: true }] },
    },
    [auth],
  );
  const plainMesh = createMesh({ service: 'bench', logging: { level: 'silent' } });
  const handler: HttpHandler = () => new Response('ok');
  // One request object reused: the token is forwarded, so the request is not rewritten.
  const request = new Request('http://bench.test/api/orders', {
    headers: { authorization: `Bearer ${token}` },
  });
  const check = await invoke(mesh, handler, request);
  if (check.status !== 200) throw new Error(`the ${alg} token was refused: ${check.status}`);

  const results = await compare(
    [
      {
        name: `jose.jwtVerify (${alg})`,
        run: () => jwtVerify(token, publicKey, { issuer, audience: 'orders' }),
      },
      { name: 'ours, first verification (cache off)', run: () => uncached.verify(token) },
      { name: 'ours, cached token', run: () => cached.verify(token) },
      { name: 'whole invocation, cached token', run: () => invoke(mesh, handler, request) },
      { name: 'whole invocation, no auth configured', run: () => invoke(plainMesh, handler, request) },
    ],
    { rounds: 7, iterations: alg === 'RS256' ? 2_000 : 1_000, warmup: 500 },
  );
  printComparison(`JWT verification, ${alg}`, results);
  const [jose, first, hit] = results;
  summary.push([
    alg,
    us(jose!.nsPerOp),
    us(first!.nsPerOp),
    us(hit!.nsPerOp),
    times(jose!.nsPerOp / hit!.nsPerOp),
    times(jose!.nsPerOp / first!.nsPerOp),
  ]);
  await mesh.close();
  await plainMesh.close();
}

printTable(
  'Summary: raw jose vs ours',
  ['alg', 'jose.jwtVerify', 'ours, first', 'ours, cached', 'cached speed-up', 'first speed-up'],
  summary,
);

// Ten rules across four policies, in the shapes real configurations use.
const policyOptions = normalizeOptions(
  {
    service: 'bench',
    auth: {
      policies: [
        {
          name: 'deny-admin',
          action: 'DENY',
          rules: [
            { to: [{ operation: { paths: ['/admin/*'] } }] },
            {
              from: [{ source: { notNamespaces: ['shop', 'ops'] } }],
              to: [{ operation: { methods: ['DELETE'] } }],
            },
          ],
        },
        {
          name: 'audit-writes',
          action: 'AUDIT',
          rules: [{ to: [{ operation: { methods: ['POST', 'PUT', 'PATCH'] } }] }],
        },
        {
          name: 'allow-reads',
          action: 'ALLOW',
          rules: [
            {
              from: [{ source: { principals: ['cluster.local/ns/shop/sa/inventory'] } }],
              to: [{ operation: { methods: ['GET'], paths: ['/api/stock/*'] } }],
            },
            { from: [{ source: { ipBlocks: ['10.0.0.0/8'] } }], to: [{ operation: { paths: ['/health'] } }] },
            { when: [{ key: 'request.headers[x-tenant]', values: ['internal'] }] },
          ],
        },
        {
          name: 'allow-users',
          action: 'ALLOW',
          rules: [
            { from: [{ source: { requestPrincipals: ['https://other.test/*'] } }] },
            { to: [{ operation: { hosts: ['*.internal'] } }] },
            { when: [{ key: 'request.auth.claims[groups]', values: ['operators'] }] },
            {
              from: [{ source: { requestPrincipals: [`${issuer}/*`] } }],
              to: [{ operation: { methods: ['GET', 'POST'], paths: ['/api/*'] } }],
              when: [{ key: 'request.auth.claims[scope]', values: ['orders:write'] }],
            },
          ],
        },
      ],
    },
  },
  [auth],
);
const evaluate = compilePolicies(policyOptions.section(auth)!.policies, new Set(['scope', 'scp']));
const attributes = {
  method: 'POST',
  path: '/api/orders',
  host: 'orders.example.com',
  port: '443',
  headers: new Headers({ 'x-tenant': 'acme' }),
  auth: {
    issuer,
    subject: 'alice',
    audiences: ['orders'],
    principal: `${issuer}/alice`,
    claims: { groups: ['functions'], scope: 'orders:read orders:write' },
  },
  peer: {
    principal: 'cluster.local/ns/shop/sa/orders',
    spiffeId: 'spiffe://cluster.local/ns/shop/sa/orders',
    namespace: 'shop',
    source: 'tls' as const,
  },
  sourceIp: '10.1.2.3',
  remoteIp: '203.0.113.9',
};
const decision = evaluate(attributes);
if (!decision.allowed || decision.policy !== 'allow-users')
  throw new Error('the bench request should be allowed by allow-users (the last rule)');
const policyResults = await compare(
  [{ name: '10 rules, allowed by the last rule', run: () => evaluate(attributes) }],
  {
    rounds: 7,
    iterations: 200_000,
    warmup: 50_000,
  },
);
printComparison('Authorization policy evaluation', policyResults);
