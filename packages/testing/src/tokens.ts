/**
 * Real signing keys and real tokens for auth tests: key pairs generated in the test (RS256,
 * ES256, EdDSA…), tokens signed by jose (an implementation independent of the verifier under
 * test), and hand-built tokens for attacks (any header, any payload, any signature bytes).
 */
import { constants, generateKeyPairSync, type KeyObject, randomUUID, sign } from 'node:crypto';
import { type JWK, type JWTPayload, SignJWT } from 'jose';

/** Algorithms `createSigningKey` can make keys for. */
export type SigningAlgorithm = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA' | 'RS256-1024';

/** A signing key and its public JWK. */
export interface SigningKey {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public key as a JWK, with `kid`, `alg` and `use: "sig"`. */
  readonly jwk: JWK;
  /** Signs a JWT with this key (jose's SignJWT). `header` entries override the defaults. */
  sign(claims: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  /**
   * Signs any header and payload with `node:crypto`, for tokens jose refuses to produce (unknown
   * `crit`, too-short keys). The header is used as given.
   */
  signRaw(header: Record<string, unknown>, claims: Record<string, unknown>): string;
}

function pairFor(alg: SigningAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 });
    case 'RS256-1024':
      return generateKeyPairSync('rsa', { modulusLength: 1024 });
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' });
    case 'ES384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' });
    case 'EdDSA':
      return generateKeyPairSync('ed25519');
  }
}

/**
 * Generates a signing key. `RS256-1024` makes a too-short RSA key (for refusal tests).
 *
 * @example
 * ```ts
 * import { createSigningKey, nowSeconds } from '@sidecarless/testing';
 *
 * const key = createSigningKey('ES256');
 * const token = await key.sign({ iss: 'https://id.test', sub: 'alice', exp: nowSeconds() + 60 });
 * ```
 */
export function createSigningKey(alg: SigningAlgorithm, kid: string = randomUUID()): SigningKey {
  const { privateKey, publicKey } = pairFor(alg);
  const jwsAlg = alg === 'RS256-1024' ? 'RS256' : alg;
  const jwk = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, alg: jwsAlg, use: 'sig' };
  return {
    alg: jwsAlg,
    kid,
    privateKey,
    publicKey,
    jwk,
    sign: (claims, header = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: jwsAlg, kid, typ: 'JWT', ...header } as { alg: string })
        .sign(privateKey),
    signRaw: (header, claims) => {
      const input = `${encode(header)}.${encode(claims)}`;
      const digest = jwsAlg === 'EdDSA' ? null : `sha${jwsAlg.slice(2)}`;
      const options = jwsAlg.startsWith('ES')
        ? { key: privateKey, dsaEncoding: 'ieee-p1363' as const }
        : jwsAlg.startsWith('PS')
          ? {
              key: privateKey,
              padding: constants.RSA_PKCS1_PSS_PADDING,
              saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
            }
          : privateKey;
      return `${input}.${sign(digest, Buffer.from(input), options).toString('base64url')}`;
    },
  };
}

/** Seconds since the epoch, as JWT dates are written. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

const encode = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/**
 * Builds a compact token from any header, payload and signature — for tokens no honest signer
 * would produce (`alg: none`, forged signatures, odd headers).
 *
 * @example
 * ```ts
 * import { craftToken, nowSeconds } from '@sidecarless/testing';
 *
 * const unsigned = craftToken({ alg: 'none' }, { iss: 'https://id.test', exp: nowSeconds() + 60 }, '');
 * ```
 */
export function craftToken(header: unknown, payload: unknown, signature: Buffer | string = ''): string {
  const sig = typeof signature === 'string' ? signature : signature.toString('base64url');
  return `${encode(header)}.${encode(payload)}.${sig}`;
}
