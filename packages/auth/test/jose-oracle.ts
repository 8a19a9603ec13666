/**
 * jose as the oracle for the mesh's own JWT verification: seeded cases — tokens for every
 * algorithm the mesh accepts, then mutated (header, claims, signature, encoding, size) — each
 * verified by the mesh (through the real auth stage, `invoke`) and by `jose.jwtVerify` with the
 * same keys and rules. Used by `jose-differential.test.ts` (a fixed seed in CI) and by
 * `scripts/jwt-differential.ts` (a longer run, any seed).
 *
 * Where the mesh is deliberately stricter than jose, a case carries the tag of that rule and the
 * disagreement must be exactly "the mesh refuses, jose accepts"; every such rule is listed in
 * docs/security-model.md. The mesh accepting what jose refuses is always a failure.
 */
import {
  createHmac,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from 'node:crypto';
import { createMesh, json, type Mesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { seeded } from '@sidecarless/testing';
import { createLocalJWKSet, type JWK, type JWSHeaderParameters, jwtVerify, SignJWT } from 'jose';
import { auth } from '../src/index.ts';

/** The rules the mesh holds stricter than jose, each documented in docs/security-model.md. */
export const stricterRules = {
  /** The mesh refuses tokens longer than `maxTokenSize` (8,192 bytes by default); jose has no limit. */
  size: 'tokens over maxTokenSize',
  /** The mesh refuses an `iat` in the future (beyond the skew); jose only checks that it is a number. */
  futureIat: 'iat in the future',
  /** The mesh refuses a `sub` that is not a string; jose checks `sub` only when asked for one. */
  subType: 'sub that is not a string',
  /** The mesh refuses an `aud` list holding anything but strings; jose ignores the other entries. */
  audType: 'aud list with non-strings',
  /**
   * The mesh refuses base64url that does not re-encode to itself: stray bits in a segment's last
   * character, `=` padding, the standard alphabet's `+` and `/`. jose's decoder (Node's) drops or
   * maps them.
   */
  canonical: 'non-canonical base64url',
  /** The mesh refuses a `kid` that is not a string (RFC 7515 §4.1.4); jose ignores it. */
  kidType: 'kid that is not a string',
} as const;
export type StricterRule = keyof typeof stricterRules;

export const issuer = 'https://id.oracle.test';
export const audience = 'orders';
const sharedSecret = 'an HMAC secret of at least 32 bytes, for HS512 too, and then some more';

type Alg =
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'HS256'
  | 'HS384'
  | 'HS512';
export const algorithms: readonly Alg[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'HS256',
  'HS384',
  'HS512',
];

interface SigningMaterial {
  readonly privateKey: KeyObject;
  readonly jwk: JWK | undefined;
}

/** One key pair per algorithm family, a JWK (with kid and alg) per algorithm. */
function keys(): Map<Alg, SigningMaterial> {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pairs: Record<string, { privateKey: KeyObject; publicKey: KeyObject }> = {
    ES256: generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    ES384: generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    ES512: generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    EdDSA: generateKeyPairSync('ed25519'),
  };
  const out = new Map<Alg, SigningMaterial>();
  for (const alg of algorithms) {
    if (alg.startsWith('HS')) {
      out.set(alg, { privateKey: createSecretKey(Buffer.from(sharedSecret)), jwk: undefined });
      continue;
    }
    const pair = alg.startsWith('RS') || alg.startsWith('PS') ? rsa : pairs[alg]!;
    const jwk = {
      ...(pair.publicKey.export({ format: 'jwk' }) as JWK),
      kid: `key-${alg.toLowerCase()}`,
      alg,
      use: 'sig',
    };
    out.set(alg, { privateKey: pair.privateKey, jwk });
  }
  return out;
}

const hashOf = (alg: string) => `sha${alg.slice(2)}`;

/** Signs any header and payload bytes (what jose refuses to produce: unknown crit, bad types). */
function rawSign(alg: string, input: string, key: KeyObject): Buffer {
  if (alg.startsWith('HS')) return createHmac(hashOf(alg), key).update(input).digest();
  if (alg.startsWith('RS')) return sign(hashOf(alg), Buffer.from(input), key);
  if (alg.startsWith('PS'))
    return sign(hashOf(alg), Buffer.from(input), { key, padding: 6, saltLength: Number(alg.slice(2)) / 8 });
  if (alg.startsWith('ES'))
    return sign(alg === 'ES512' ? 'sha512' : hashOf(alg), Buffer.from(input), {
      key,
      dsaEncoding: 'ieee-p1363',
    });
  return sign(null, Buffer.from(input), key);
}

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64url');

/** One case: the token, what made it, and the stricter rules that may explain a refusal. */
export interface OracleCase {
  readonly id: number;
  readonly token: string;
  readonly made: string;
  readonly stricter: ReadonlySet<StricterRule>;
}

/** A verdict from each side. */
export interface Verdicts {
  readonly mesh: boolean;
  readonly jose: boolean;
}

/** The oracle: a mesh and jose, configured alike. */
export interface Oracle {
  cases(seed: number, count: number): AsyncGenerator<OracleCase>;
  verify(token: string): Promise<Verdicts>;
  close(): Promise<void>;
}

export async function createOracle(): Promise<Oracle> {
  const material = keys();
  const publicJwks = [...material.values()].flatMap((entry) => (entry.jwk ? [entry.jwk] : []));
  const mesh: Mesh = createMesh(
    {
      service: 'orders',
      logging: { level: 'silent' },
      auth: {
        jwt: [{ issuer, jwks: { keys: publicJwks }, sharedSecret, audiences: [audience], required: true }],
        // Every case verified afresh, never answered from the cache.
        tokenCacheSize: 0,
      },
    },
    [auth],
  );
  await mesh.ready();
  const localJwks = createLocalJWKSet({ keys: publicJwks });
  const secret = new TextEncoder().encode(sharedSecret);
  const handler = async () => json({ ok: true });

  const verifyMesh = async (token: string) => {
    let request: Request;
    try {
      request = new Request('http://localhost/orders', { headers: { authorization: `Bearer ${token}` } });
    } catch {
      return false; // Not a header value HTTP can carry: no server would see it.
    }
    const response = await invoke(mesh, handler, request);
    return response.status === 200;
  };
  const verifyJose = async (token: string) => {
    try {
      await jwtVerify(
        token,
        (header: JWSHeaderParameters, jws) =>
          typeof header.alg === 'string' && header.alg.startsWith('HS') ? secret : localJwks(header, jws),
        { issuer, audience, algorithms: [...algorithms], clockTolerance: 60, requiredClaims: ['exp'] },
      );
      return true;
    } catch {
      return false;
    }
  };

  async function* cases(seed: number, count: number): AsyncGenerator<OracleCase> {
    const random = seeded(seed);
    const chance = (percent: number) => random.next(100) < percent;
    for (let id = 0; id < count; id++) {
      const alg = random.pick(algorithms);
      const own = material.get(alg)!;
      const now = Math.floor(Date.now() / 1000);
      const header: Record<string, unknown> = { alg, typ: 'JWT' };
      if (own.jwk) header.kid = own.jwk.kid;
      const claims: Record<string, unknown> = {
        iss: issuer,
        aud: audience,
        sub: `user-${id}`,
        iat: now,
        exp: now + 600,
      };
      const made: string[] = [alg];
      const stricter = new Set<StricterRule>();
      let signingAlg: string = alg;
      let signingKey = own.privateKey;

      // Header mutations.
      if (chance(30)) {
        const what = random.next(14);
        made.push(`header#${what}`);
        switch (what) {
          case 0:
            header.alg = 'none';
            break;
          case 1: {
            // Algorithm confusion: HS256 keyed with the RSA public key's PEM.
            const rsa = material.get('RS256')!;
            header.alg = 'HS256';
            signingAlg = 'HS256';
            signingKey = createSecretKey(
              Buffer.from(
                createPublicKey({ key: rsa.jwk as never, format: 'jwk' }).export({
                  format: 'pem',
                  type: 'spki',
                }) as string,
              ),
            );
            break;
          }
          case 2: {
            const other = random.pick(algorithms.filter((candidate) => candidate !== alg));
            header.alg = other; // signed with this key, claiming another algorithm
            signingAlg = other.startsWith(alg.slice(0, 2)) ? other : alg;
            break;
          }
          case 3:
            header.alg = alg.toLowerCase();
            break;
          case 4:
            header.kid = random.pick(['unknown-key', '', 'key-rs256', 'key-es256']);
            break;
          case 5:
            delete header.kid;
            break;
          case 6:
            header.kid = random.pick([42, null, ['key-rs256'], { id: 1 }]);
            stricter.add('kidType');
            break;
          case 7:
            header.typ = random.pick(['at+jwt', 'jwt', 'JOSE', 123, '']);
            break;
          case 8:
            header.crit = random.pick([['exp'], ['b64'], [], 'exp', ['x-unknown']]);
            if (chance(50)) header['x-unknown'] = true;
            break;
          case 9:
            header.b64 = false;
            header.crit = ['b64'];
            break;
          case 10:
            header.jku = 'https://attacker.example/jwks.json';
            header.x5u = 'https://attacker.example/cert.pem';
            break;
          case 11:
            header.jwk = material.get('ES256')!.jwk;
            break;
          case 12:
            header.x5c = ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'];
            break;
          default:
            header.zip = 'DEF';
        }
      }
      // Claim mutations.
      if (chance(45)) {
        const what = random.next(22);
        made.push(`claims#${what}`);
        switch (what) {
          case 0:
            delete claims.exp;
            break;
          case 1:
            // Well inside or outside the 60 s skew: at its edge the two checks, a moment apart, may see
            // different seconds.
            claims.exp = now - random.pick([1, 30, 90, 3_600]);
            break;
          case 2:
            claims.exp = random.pick([String(now + 600), `${now + 600}`, null, true, [now + 600]]);
            break;
          case 3:
            claims.exp = random.pick([now + 600.5, 1e20, Number.MAX_SAFE_INTEGER, 0, -1]);
            break;
          case 4:
            claims.nbf = now + random.pick([30, 90, 3_600]);
            break;
          case 5:
            claims.nbf = random.pick([String(now), null, {}]);
            break;
          case 6:
            claims.iat = now + random.pick([10, 30]);
            break;
          case 7:
            claims.iat = now + random.pick([90, 600, 3_600]);
            stricter.add('futureIat');
            break;
          case 8:
            claims.iat = random.pick([String(now), null, [now]]);
            break;
          case 9:
            claims.aud = random.pick(['billing', '', 'ORDERS', 'orders ']);
            break;
          case 10:
            claims.aud = random.pick([[audience], ['billing', audience], ['billing'], []]);
            break;
          case 11:
            claims.aud = random.pick([
              [audience, 42],
              [audience, null],
            ]);
            stricter.add('audType');
            break;
          case 12:
            claims.aud = random.pick([42, null, { aud: audience }]);
            break;
          case 13:
            delete claims.aud;
            break;
          case 14:
            claims.iss = random.pick([`${issuer}/`, 'https://evil.test', '', issuer.toUpperCase()]);
            break;
          case 15:
            claims.iss = random.pick([[issuer], 42, null]);
            break;
          case 16:
            delete claims.iss;
            break;
          case 17:
            claims.sub = random.pick([42, null, ['a'], { id: 1 }]);
            stricter.add('subType');
            break;
          case 18:
            claims.scope = 'orders:write orders:read';
            claims['https://claims.example/roles'] = ['admin'];
            break;
          case 19:
            claims.nested = { deep: { deeper: [1, 2, { x: 'é€😀' }] } };
            break;
          case 20:
            claims.exp = now + 59; // within the skew of expiring
            claims.nbf = now - 3_600;
            break;
          default:
            claims.exp = Number.POSITIVE_INFINITY; // JSON serialises it as null
        }
      }
      let headerText = JSON.stringify(header);
      let payloadText = JSON.stringify(claims);
      // Raw JSON mutations: duplicate keys, whitespace, a non-object.
      if (chance(8)) {
        const what = random.next(5);
        made.push(`json#${what}`);
        if (what === 0) payloadText = payloadText.replace('{', `{"iss":"https://evil.test",`);
        else if (what === 1) payloadText = payloadText.replace(/}$/, `,"iss":"https://evil.test"}`);
        else if (what === 2) headerText = headerText.replace('{', '{"alg":"none",');
        else if (what === 3) payloadText = ` \n${payloadText.replace(/,/g, ' , ')}\n`;
        else payloadText = random.pick(['[]', '"a string"', '42', 'null', '{']);
      }
      // Size: near and over the mesh's 8,192-byte limit.
      if (chance(4)) {
        const target = random.pick([8_000, 8_192, 8_300, 20_000]);
        made.push(`size~${target}`);
        const base = `${b64(headerText)}.${b64(payloadText)}.`.length + 200;
        claims.pad = 'x'.repeat(Math.max(0, Math.floor(((target - base) * 3) / 4)));
        payloadText = JSON.stringify(claims);
      }

      let token: string;
      const standard = made.length === 1 && !alg.startsWith('HS');
      if (standard && chance(50)) {
        // The plain case: signed by jose itself.
        token = await new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(own.privateKey);
      } else {
        const input = `${b64(headerText)}.${b64(payloadText)}`;
        const algForKey =
          typeof header.alg === 'string' && algorithms.includes(signingAlg as Alg) ? signingAlg : alg;
        let signature: Buffer;
        try {
          signature = rawSign(algForKey, input, signingKey);
        } catch {
          signature = rawSign(alg, input, own.privateKey);
        }
        token = `${input}.${b64(signature)}`;
      }
      if (token.length > 8_192) stricter.add('size');

      // Signature and encoding mutations.
      if (chance(15)) {
        const what = random.next(9);
        made.push(`wire#${what}`);
        const [h, p, s] = token.split('.') as [string, string, string];
        const flip = (segment: string, at: number) => {
          const chars = [...segment];
          const i = at % chars.length;
          chars[i] = chars[i] === 'A' ? 'B' : 'A';
          return chars.join('');
        };
        switch (what) {
          case 0: {
            const at = random.next(s.length);
            // The last character also carries bits no byte uses: flipped there, the bytes may not change.
            if (at === s.length - 1) stricter.add('canonical');
            token = `${h}.${p}.${flip(s, at)}`;
            break;
          }
          case 1:
            token = `${h}.${p}.${s.slice(0, -random.pick([1, 4, 10]))}`;
            break;
          case 2:
            token = `${h}.${p}.`;
            break;
          case 3: {
            const tail = random.pick(['=', '==', '.', '.x', ' ', '\t']);
            if (tail.startsWith('=')) stricter.add('canonical');
            token = `${token}${tail}`;
            break;
          }
          case 4: {
            const standard = s.replace(/-/g, '+').replace(/_/g, '/');
            if (standard !== s) stricter.add('canonical');
            token = `${h}.${p}.${standard}`;
            break;
          }
          case 5: {
            // The last character of a segment changed in bits the decoder drops.
            const segment = random.pick([0, 1, 2]);
            const parts = [h, p, s];
            const last = parts[segment]!;
            const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
            const index = alphabet.indexOf(last.at(-1)!);
            const unused = [0, 4, 2][last.length % 4] ?? 0; // bits the last character carries beyond the bytes
            if (unused > 0 && index >= 0) {
              parts[segment] =
                last.slice(0, -1) +
                alphabet[(index & ~((1 << unused) - 1)) | (1 + random.next((1 << unused) - 1))];
              stricter.add('canonical');
            }
            token = parts.join('.');
            break;
          }
          case 6:
            token = `${h}.${p}.${s}.${s}`;
            break;
          case 7:
            token = `${h}..${s}`;
            break;
          default:
            token = `${h}.${p}`;
        }
      }
      yield { id, token, made: made.join(' '), stricter };
    }
  }

  return {
    cases,
    verify: async (token) => ({ mesh: await verifyMesh(token), jose: await verifyJose(token) }),
    close: () => mesh.close(),
  };
}

/** The outcome of a run: disagreements, and which stricter rules were seen to apply. */
export interface OracleReport {
  readonly cases: number;
  readonly accepted: number;
  readonly failures: readonly string[];
  readonly stricterSeen: ReadonlyMap<StricterRule, number>;
}

/** Runs `count` cases from `seed`; a failure is a disagreement no stricter rule explains. */
export async function runOracle(seed: number, count: number): Promise<OracleReport> {
  const oracle = await createOracle();
  const failures: string[] = [];
  const stricterSeen = new Map<StricterRule, number>();
  let accepted = 0;
  try {
    for await (const entry of oracle.cases(seed, count)) {
      const { mesh, jose } = await oracle.verify(entry.token);
      if (mesh && jose) accepted++;
      if (mesh === jose) continue;
      if (mesh && !jose) {
        failures.push(`case ${entry.id} (${entry.made}): the mesh ACCEPTS what jose refuses`);
        continue;
      }
      // The mesh refuses, jose accepts: only a documented stricter rule may explain it.
      const rules = [...entry.stricter];
      if (rules.length === 0) {
        failures.push(
          `case ${entry.id} (${entry.made}): the mesh refuses what jose accepts, and no stricter rule applies`,
        );
        continue;
      }
      for (const rule of rules) stricterSeen.set(rule, (stricterSeen.get(rule) ?? 0) + 1);
    }
  } finally {
    await oracle.close();
  }
  return { cases: count, accepted, failures, stricterSeen };
}
