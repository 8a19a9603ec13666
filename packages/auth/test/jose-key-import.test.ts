/**
 * Key import held to jose's: every JWK in the Wycheproof JWS fixtures, fresh keys of every type
 * jose imports (RSA, EC P-256/384/521, Ed25519) and mutations of them (members missing or
 * swapped, points off the curve, private members present, small moduli, `use`/`key_ops`). For
 * each, the mesh's `importVerificationKey` and jose's `importJWK` must produce the same public
 * key, or both refuse it — except where the mesh is deliberately stricter (docs/security-model.md:
 * `use` other than `sig`, `key_ops` without `verify`, RSA under 2,048 bits, a symmetric key
 * outside `sharedSecret`, private members present, a key-agreement curve), each asserted as
 * itself.
 */
import { createPublicKey, createSecretKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { seeded } from '@sidecarless/testing';
import { importJWK, type JWK } from 'jose';
import { expect, it } from 'vitest';
import { importVerificationKey } from '../src/keys.ts';

type Jwk = Record<string, unknown>;

/** Every object with a `kty` in the Wycheproof JWS file. */
function fixtureKeys(): Jwk[] {
  const path = fileURLToPath(
    new URL('../../core/test/fixtures/wycheproof/json_web_signature_test.json', import.meta.url),
  );
  const found: Jwk[] = [];
  const walk = (value: unknown) => {
    if (value === null || typeof value !== 'object') return;
    if (typeof (value as Jwk).kty === 'string') found.push(value as Jwk);
    for (const child of Object.values(value)) walk(child);
  };
  walk(JSON.parse(readFileSync(path, 'utf8')));
  return found;
}

const exported = (key: KeyObject) => key.export({ format: 'jwk' });

function freshKeys(): Jwk[] {
  const pairs = [
    generateKeyPairSync('rsa', { modulusLength: 2048 }),
    generateKeyPairSync('rsa', { modulusLength: 3072 }),
    generateKeyPairSync('rsa', { modulusLength: 1024 }),
    generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    generateKeyPairSync('ec', { namedCurve: 'P-384' }),
    generateKeyPairSync('ec', { namedCurve: 'P-521' }),
    generateKeyPairSync('ed25519'),
  ];
  return pairs.flatMap(({ publicKey, privateKey }) => [
    exported(publicKey) as Jwk,
    exported(privateKey) as Jwk, // private members present: the mesh uses the public part
  ]);
}

/** Mutations of a key: what an issuer's JWKS (or an attacker's) might carry. */
function mutations(jwk: Jwk, random: ReturnType<typeof seeded>): { jwk: Jwk }[] {
  const out: { jwk: Jwk }[] = [
    { jwk: { ...jwk, use: 'enc' } },
    { jwk: { ...jwk, use: 'sig' } },
    { jwk: { ...jwk, key_ops: ['encrypt'] } },
    { jwk: { ...jwk, key_ops: ['verify'] } },
    { jwk: { ...jwk, kid: 42 } },
    { jwk: { ...jwk, ext: false } },
  ];
  for (const member of ['n', 'e', 'x', 'y', 'crv', 'kty'])
    if (jwk[member] !== undefined) {
      const { [member]: _removed, ...rest } = jwk;
      out.push({ jwk: rest });
    }
  if (typeof jwk.x === 'string') {
    const chars = [...jwk.x];
    const at = random.next(chars.length - 1);
    chars[at] = chars[at] === 'A' ? 'B' : 'A';
    out.push({ jwk: { ...jwk, x: chars.join('') } }); // most likely off the curve
  }
  if (jwk.kty === 'EC') out.push({ jwk: { ...jwk, crv: jwk.crv === 'P-256' ? 'P-384' : 'P-256' } });
  if (jwk.kty === 'RSA') out.push({ jwk: { ...jwk, kty: 'EC' } });
  if (jwk.kty === 'OKP') out.push({ jwk: { ...jwk, crv: 'X25519' } });
  return out;
}

/** jose's import as a public key (jose keeps private members; the public half is what verifies). */
async function joseImport(jwk: Jwk): Promise<KeyObject | undefined> {
  try {
    const imported = await importJWK(
      jwk as unknown as JWK,
      typeof jwk.alg === 'string' ? jwk.alg : algFor(jwk),
    );
    // A symmetric JWK: jose hands back its bytes.
    if (imported instanceof Uint8Array) return createSecretKey(imported);
    const key = imported as KeyObject;
    return key.type === 'private' ? createPublicKey(key) : key;
  } catch {
    return undefined;
  }
}

/**
 * The documented rule (docs/security-model.md) under which the mesh refuses a key jose imports,
 * or undefined when none applies.
 */
function stricterRule(jwk: Jwk, jose: KeyObject): string | undefined {
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'use';
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify')))
    return 'key_ops';
  if (jwk.kty === 'oct') return 'oct';
  if (jwk.d !== undefined) return 'private';
  if (jose.asymmetricKeyType === 'x25519' || jose.asymmetricKeyType === 'x448') return 'key-agreement';
  const bits = jose.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < 2048) return 'rsa-size';
  return undefined;
}

/** jose needs an algorithm for a JWK without `alg`; the one its type implies. */
function algFor(jwk: Jwk): string {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'OKP') return 'EdDSA';
  if (jwk.kty === 'oct') return 'HS256';
  return (
    ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as Record<string, string>)[String(jwk.crv)] ??
    'ES256'
  );
}

it('imports every key jose imports into the same public key, or both refuse it', async () => {
  const random = seeded(0x6b65);
  const cases: { jwk: Jwk; from: string }[] = [];
  for (const jwk of [...fixtureKeys(), ...freshKeys()]) {
    cases.push({ jwk, from: 'key' });
    for (const mutated of mutations(jwk, random)) cases.push({ ...mutated, from: 'mutation' });
  }
  const failures: string[] = [];
  const stricterSeen = new Map<string, number>();
  let both = 0;
  for (const [index, entry] of cases.entries()) {
    const mesh = await importVerificationKey(entry.jwk);
    const jose = await joseImport(entry.jwk);
    const described = `case ${index} (${entry.from} ${String(entry.jwk.kty)}/${String(entry.jwk.crv ?? entry.jwk.alg ?? '')})`;
    if (typeof mesh === 'string') {
      if (jose === undefined) continue;
      // The mesh refuses a key jose imports: only a documented stricter rule may say why.
      const rule = stricterRule(entry.jwk, jose);
      if (rule === undefined) failures.push(`${described}: the mesh refuses (${mesh}), jose imports it`);
      else stricterSeen.set(rule, (stricterSeen.get(rule) ?? 0) + 1);
      continue;
    }
    if (jose === undefined) {
      failures.push(`${described}: the mesh imports what jose refuses`);
      continue;
    }
    both++;
    const meshDer = mesh.key.export({ format: 'der', type: 'spki' });
    const joseDer = jose.export({ format: 'der', type: 'spki' });
    if (!meshDer.equals(joseDer)) failures.push(`${described}: the two imports are different keys`);
  }
  expect(failures).toEqual([]);
  expect(both).toBeGreaterThan(40);
  expect([...stricterSeen.keys()].sort()).toEqual([
    'key-agreement',
    'key_ops',
    'oct',
    'private',
    'rsa-size',
    'use',
  ]);
});
