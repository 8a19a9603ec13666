/**
 * Strict compact-JWS parsing and signature verification with synchronous `node:crypto`.
 *
 * Why not `jose.jwtVerify` per request: its WebCrypto verify is asynchronous and slower. Across
 * four runs of bench/auth.bench.ts on our noisy 2-core machine, jose measured RS256 79–303 µs,
 * ES256 126–236 µs, EdDSA 130–314 µs; this verifier RS256 66–101 µs, ES256 108–180 µs, EdDSA
 * 158–251 µs (most of it the signature check itself), and 0.7–5 µs for a cached token.
 * Owning the check also lets us be stricter than jose: canonical base64url only, `crit`
 * refused, `jku`/`x5u`/`jwk`/`x5c` never followed, key type bound to the algorithm. jose is what
 * the tests sign with, so the verifier is checked against an independent implementation.
 */

import type { KeyObject } from 'node:crypto';
import { nodeBuiltin } from '@sidecarless/core/feature';

const { constants, createHmac, timingSafeEqual, verify } = nodeBuiltin('node:crypto');

/** Why a token was refused. Stable codes: they go to logs and metrics, never to the caller. */
export type TokenFailure =
  | 'malformed'
  | 'too_large'
  | 'bad_header'
  | 'algorithm_not_allowed'
  | 'crit_not_understood'
  | 'unknown_key'
  | 'bad_signature'
  | 'bad_claims'
  | 'expired'
  | 'not_yet_valid'
  | 'issued_in_future'
  | 'missing_exp'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'keys_unavailable';

/** A refused token. The message names the rule broken, never the token. */
export class TokenError extends Error {
  readonly reason: TokenFailure;
  constructor(reason: TokenFailure, message: string) {
    super(message);
    this.name = 'TokenError';
    this.reason = reason;
  }
}

/** A key usable for verification, bound to what it may verify. */
export interface VerificationKey {
  readonly kid: string | undefined;
  /** The JWK's `alg`, when it names one: then only that algorithm may use the key. */
  readonly alg: string | undefined;
  readonly key: KeyObject;
  /** `rsa`, `ec-P-256`, `ec-P-384`, `ec-P-521`, `ed25519`, `ed448`, `oct`. */
  readonly kind: string;
  /**
   * The rule's `sharedSecret`: it has no `kid` to match, so a token's `kid` does not select it
   * out (a kid is a hint, RFC 7515 §4.1.4). Keys from a JWKS never set it: there a token's kid
   * must name the key, as jose and Envoy require.
   */
  readonly anyKid?: boolean;
}

/** The decoded parts of a compact JWS whose shape (not yet signature) passed. */
export interface ParsedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly alg: string;
  readonly kid: string | undefined;
  readonly payload: Buffer;
  /** `header.payload`, the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

// Three base64url segments; the payload may be empty (RFC 7515 allows it), the others may not.
// No padding, no whitespace, nothing else.
const compactShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;

const base64urlAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Decodes base64url, refusing non-canonical text: an impossible length, or non-zero bits in the
 * last character that no encoder would set (two encodings of the same bytes must not both
 * verify). The alphabet was already checked by the shape regex. Checking the unused bits
 * directly replaced a decode-then-re-encode comparison, which cost several µs per token.
 */
function decodeCanonical(segment: string): Buffer | undefined {
  const tail = segment.length % 4;
  if (tail === 1) return undefined;
  if (tail !== 0) {
    const last = base64urlAlphabet.indexOf(segment[segment.length - 1]!);
    const unusedBits = tail === 2 ? 0b1111 : 0b11;
    if ((last & unusedBits) !== 0) return undefined;
  }
  return Buffer.from(segment, 'base64url');
}

/** Parses a compact JWS strictly. Throws {@link TokenError}. */
export function parseCompactJws(token: string, maxSize: number): ParsedJws {
  if (token.length > maxSize) throw new TokenError('too_large', `the token is longer than ${maxSize} bytes`);
  if (!compactShape.test(token)) {
    throw new TokenError('malformed', 'the token is not three base64url segments separated by dots');
  }
  const firstDot = token.indexOf('.');
  const secondDot = token.indexOf('.', firstDot + 1);
  const headerBytes = decodeCanonical(token.slice(0, firstDot));
  const payload = decodeCanonical(token.slice(firstDot + 1, secondDot));
  const signature = decodeCanonical(token.slice(secondDot + 1));
  if (!headerBytes || !payload || !signature) {
    throw new TokenError('malformed', 'the token is not canonical base64url');
  }
  let header: unknown;
  try {
    header = JSON.parse(headerBytes.toString('utf8'));
  } catch {
    throw new TokenError('bad_header', 'the token header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new TokenError('bad_header', 'the token header is not a JSON object');
  }
  const fields = header as Record<string, unknown>;
  const alg = fields.alg;
  if (typeof alg !== 'string') throw new TokenError('bad_header', 'the token header has no alg');
  if (fields.crit !== undefined) {
    // We implement no JWS extension, so any critical one must be refused (RFC 7515 §4.1.11).
    throw new TokenError(
      'crit_not_understood',
      'the token names critical header parameters we do not implement',
    );
  }
  if (fields.b64 !== undefined)
    throw new TokenError('bad_header', 'unencoded payloads (b64) are not accepted');
  const kid = fields.kid;
  if (kid !== undefined && typeof kid !== 'string')
    throw new TokenError('bad_header', 'the token kid is not a string');
  return {
    header: fields,
    alg,
    kid,
    payload,
    signingInput: token.slice(0, secondDot),
    signature,
  };
}

/** Which key kinds each algorithm may use; an RSA key never verifies an HMAC, and so on. */
const kindsFor: Readonly<Record<string, readonly string[]>> = {
  RS256: ['rsa'],
  RS384: ['rsa'],
  RS512: ['rsa'],
  PS256: ['rsa', 'rsa-pss'],
  PS384: ['rsa', 'rsa-pss'],
  PS512: ['rsa', 'rsa-pss'],
  ES256: ['ec-P-256'],
  ES384: ['ec-P-384'],
  ES512: ['ec-P-521'],
  EdDSA: ['ed25519', 'ed448'],
  HS256: ['oct'],
  HS384: ['oct'],
  HS512: ['oct'],
};

/**
 * True when `key` may verify a signature made with `alg`: the key's type must fit the algorithm
 * (this is what stops RSA/HMAC/EC confusion), and a JWK that names an `alg` is bound to exactly it.
 */
export function keyFits(key: VerificationKey, alg: string): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  return kindsFor[alg]?.includes(key.kind) ?? false;
}

const digestFor: Readonly<Record<string, string>> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };
const ecSignatureLength: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 };

/**
 * Checks `jws`'s signature with `key`. Returns false for a wrong signature; never throws for
 * attacker-controlled input (a malformed signature is simply not valid).
 */
export function verifySignature(jws: ParsedJws, key: VerificationKey): boolean {
  const { alg, signature } = jws;
  if (!keyFits(key, alg)) return false;
  const data = Buffer.from(jws.signingInput, 'ascii');
  const family = alg.slice(0, 2);
  const digest = digestFor[alg.slice(2)];
  try {
    switch (family) {
      case 'RS':
        return verify(digest!, data, key.key, signature);
      case 'PS':
        return verify(
          digest!,
          data,
          {
            key: key.key,
            padding: constants.RSA_PKCS1_PSS_PADDING,
            saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
          },
          signature,
        );
      case 'ES':
        // JWS uses the fixed-width r‖s form; any other length is not a signature of this curve.
        if (signature.length !== ecSignatureLength[alg]) return false;
        return verify(digest!, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, signature);
      case 'Ed':
        return verify(null, data, key.key, signature);
      case 'HS': {
        const mac = createHmac(digest!, key.key).update(data).digest();
        return mac.length === signature.length && timingSafeEqual(mac, signature);
      }
      default:
        return false;
    }
  } catch {
    // OpenSSL rejects some malformed inputs by throwing; to a caller that is an invalid signature.
    return false;
  }
}

/**
 * Runs one signature check per (algorithm, key type) the rule allows, with an all-zero signature
 * that cannot verify, so OpenSSL's first-use setup for that key type happens at init — in
 * Lambda's init phase — and not inside the first invocation. Measured on the bench's ES256
 * function (Node 22, bundled): 0.7 ms off the first invocation. Never throws.
 */
export function primeVerification(keys: readonly VerificationKey[], algorithms: readonly string[]): void {
  const primed = new Set<string>();
  for (const alg of algorithms) {
    if (alg.startsWith('HS')) continue; // an HMAC has no first-use cost worth moving
    const key = keys.find((candidate) => keyFits(candidate, alg));
    if (key === undefined || primed.has(`${alg}|${key.kind}`)) continue;
    primed.add(`${alg}|${key.kind}`);
    const modulusBits = key.key.asymmetricKeyDetails?.modulusLength;
    const length = ecSignatureLength[alg] ?? (modulusBits === undefined ? 64 : Math.ceil(modulusBits / 8));
    const signature = Buffer.alloc(length);
    verifySignature(
      { header: {}, alg, kid: key.kid, payload: Buffer.alloc(0), signingInput: 'e30.', signature },
      key,
    );
  }
}

/**
 * Verifies a compact JWS against a key set: strict shape, algorithm allow-list, key chosen by
 * `kid` (or every fitting key when the token names none), signature. Returns the parsed token.
 *
 * @example
 * ```ts no-check
 * const jws = verifyCompactJws(token, keys, ['RS256'], 8192);
 * const claims = JSON.parse(jws.payload.toString('utf8'));
 * ```
 */
export function verifyCompactJws(
  token: string,
  keys: readonly VerificationKey[],
  algorithms: readonly string[],
  maxSize: number,
): ParsedJws {
  const jws = parseCompactJws(token, maxSize);
  return verifyParsed(jws, keys, algorithms);
}

/** The signature half of {@link verifyCompactJws}, for a token already parsed. */
export function verifyParsed(
  jws: ParsedJws,
  keys: readonly VerificationKey[],
  algorithms: readonly string[],
): ParsedJws {
  if (jws.alg === 'none' || !algorithms.includes(jws.alg)) {
    throw new TokenError('algorithm_not_allowed', `the token algorithm ${safeName(jws.alg)} is not allowed`);
  }
  // `jku`, `x5u`, `jwk` and `x5c` are never read: the key always comes from configuration, so a
  // token cannot choose the key that verifies it.
  const candidates = keys.filter(
    (key) => (jws.kid === undefined || key.kid === jws.kid || key.anyKid === true) && keyFits(key, jws.alg),
  );
  if (candidates.length === 0) {
    throw new TokenError('unknown_key', 'no configured key matches the token kid and algorithm');
  }
  for (const key of candidates) if (verifySignature(jws, key)) return jws;
  throw new TokenError('bad_signature', 'the token signature does not verify');
}

/** An attacker-chosen string made safe to put in a log line or message. */
function safeName(value: string): string {
  return JSON.stringify(value.length > 16 ? `${value.slice(0, 16)}…` : value);
}
