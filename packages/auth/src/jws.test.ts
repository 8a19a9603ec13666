/**
 * Wycheproof's JSON Web Signature vectors, run through our verifier: every vector's expected
 * result is honoured, except the few listed in `deviations`, each with its reason.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { primeVerification, TokenError, type VerificationKey, verifyCompactJws } from './jws.js';
import { importVerificationKey } from './keys.js';
import { asymmetricAlgorithms, hmacAlgorithms } from './options.js';

interface Vector {
  tcId: number;
  comment: string;
  jws: string | Record<string, unknown>;
  result: 'valid' | 'invalid';
}
interface Group {
  comment: string;
  public?: Record<string, unknown>;
  private?: Record<string, unknown>;
  tests: Vector[];
}

const file = new URL('../../core/test/fixtures/wycheproof/json_web_signature_test.json', import.meta.url);
const { testGroups } = JSON.parse(readFileSync(file, 'utf8')) as { testGroups: Group[] };

/**
 * Vectors where our answer differs from the file's, each with the reason. Every other vector
 * gets exactly the file's expected result.
 */
const deviations = new Map<number, { result: 'valid' | 'invalid'; why: string }>([
  // Stricter: not base64url (RFC 7515 §2), refused by the shape check before any signature is
  // computed. Lenient decoders skip the character, and the MAC covers the text as sent.
  [372, { result: 'invalid', why: 'a "?" in the header segment is not base64url' }],
  [373, { result: 'invalid', why: 'a "?" in the payload segment is not base64url' }],
  // Stricter: a JWK that names an alg is used for exactly that alg (RFC 7517 §4.4). The same
  // file calls a PS512-labelled key used for PS256 invalid (tcId 338), so it is not consistent.
  [346, { result: 'invalid', why: 'the key is labelled PS256 and the token is PS384' }],
  [350, { result: 'invalid', why: 'the key is labelled PS256 and the token is PS384' }],
  [347, { result: 'invalid', why: 'the key is labelled "ES521", which is no JWS algorithm' }],
  [351, { result: 'invalid', why: 'the key is labelled "ES521", which is no JWS algorithm' }],
  // Impossible to honour: byte-identical to tcId 357 (valid) in the file — the padding these
  // vectors describe is not in their text — so any verifier gives them 357's answer.
  [367, { result: 'valid', why: 'the token is byte-identical to tcId 357' }],
  [370, { result: 'valid', why: 'the token is byte-identical to tcId 357' }],
]);

// Wycheproof configures HMAC keys explicitly, as our `sharedSecret` does, so HMAC is allowed here.
const algorithms = [...asymmetricAlgorithms, ...hmacAlgorithms];

function verdict(vector: Vector, key: VerificationKey | string): 'valid' | 'invalid' {
  if (typeof key === 'string') return 'invalid';
  const token = typeof vector.jws === 'string' ? vector.jws : JSON.stringify(vector.jws);
  try {
    verifyCompactJws(token, [key], algorithms, 16_384);
    return 'valid';
  } catch (error) {
    // Every refusal must be a TokenError: nothing an attacker sends may crash the verifier.
    expect(error).toBeInstanceOf(TokenError);
    return 'invalid';
  }
}

describe('Wycheproof JSON Web Signature vectors', () => {
  it('covers every vector in the file', () => {
    expect(testGroups.reduce((count, group) => count + group.tests.length, 0)).toBeGreaterThan(400);
  });

  it('finds tcId 367 and 370 byte-identical to tcId 357', () => {
    const byId = new Map(testGroups.flatMap((group) => group.tests.map((t) => [t.tcId, t.jws] as const)));
    expect(byId.get(367)).toBe(byId.get(357));
    expect(byId.get(370)).toBe(byId.get(357));
  });

  for (const group of testGroups) {
    describe(`group ${group.comment}`, () => {
      for (const vector of group.tests) {
        const deviation = deviations.get(vector.tcId);
        const expected = deviation?.result ?? vector.result;
        const note = deviation ? ` (file says ${vector.result}: ${deviation.why})` : '';
        it(`tcId ${vector.tcId} (${vector.comment}) is ${expected}${note}`, async () => {
          const jwk = group.public ?? group.private;
          expect(jwk).toBeDefined();
          const key = await importVerificationKey(jwk!, { allowSecret: true });
          // Priming at init (a check with a signature that cannot verify) never throws and
          // changes no later verdict.
          if (typeof key !== 'string') expect(() => primeVerification([key], algorithms)).not.toThrow();
          expect(verdict(vector, key)).toBe(expected);
        });
      }
    });
  }
});
