/**
 * The keys of one issuer: imported from an inline JWKS or fetched from `jwksUri` at init (so the
 * first request does not pay), used for `jwksMaxAge` then refreshed in the background, refreshed
 * on an unknown `kid` at most once per `jwksRefreshCooldown` (a caller spraying random `kid`s
 * cannot make us hammer the issuer), and served stale — with a warning and a metric hook — when
 * the issuer is down. One instance per rule, owned by the mesh.
 *
 * Keys are imported with `node:crypto`'s `createPublicKey({ format: 'jwk' })`, which is what
 * jose's Node build does underneath: requiring jose's CommonJS build from node_modules measured
 * 190–220 ms on our noisy 2-core machine, and init + ready() of a mesh with auth dropped from
 * ~490 ms to 245–315 ms without it (a mesh without auth: 180–340 ms in the same runs).
 */

import type { JsonWebKey, KeyObject } from 'node:crypto';
import type { Logger } from '@sidecarless/core';
import { nodeBuiltin } from '@sidecarless/core/feature';
import type { AuthEvents } from './events.js';
import { primeVerification, type VerificationKey } from './jws.js';
import type { NormalizedJwtRule } from './options.js';

const { createPublicKey, createSecretKey } = nodeBuiltin('node:crypto');

const curveKinds: Readonly<Record<string, string>> = {
  prime256v1: 'ec-P-256',
  secp384r1: 'ec-P-384',
  secp521r1: 'ec-P-521',
};

/** The public members of each key type: private members in a published JWKS are dropped. */
const publicMembers: Readonly<Record<string, readonly string[]>> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
};

/** JWK members only a private key has (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2). */
const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

/** The smallest RSA modulus accepted (NIST SP 800-131A; jose refuses smaller ones too). */
const minRsaBits = 2048;

function kindOf(key: KeyObject): string | undefined {
  const type = key.asymmetricKeyType;
  if (type === 'rsa' || type === 'rsa-pss') {
    return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= minRsaBits ? type : undefined;
  }
  if (type === 'ec') return curveKinds[key.asymmetricKeyDetails?.namedCurve ?? ''];
  if (type === 'ed25519' || type === 'ed448') return type;
  return undefined;
}

/**
 * Imports one JWK for signature verification, or explains why it cannot be used.
 *
 * @example
 * ```ts no-check
 * const key = await importVerificationKey({ kty: 'OKP', crv: 'Ed25519', x: '…', kid: 'k1' });
 * ```
 */
export async function importVerificationKey(
  jwk: Readonly<Record<string, unknown>>,
  options: { allowSecret?: boolean } = {},
): Promise<VerificationKey | string> {
  const kty = jwk.kty;
  if (jwk.use !== undefined && jwk.use !== 'sig') return 'its use is not "sig"';
  if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) {
    return 'its key_ops do not include "verify"';
  }
  const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
  const alg = typeof jwk.alg === 'string' ? jwk.alg : undefined;
  if (kty === 'oct') {
    if (!options.allowSecret) return 'symmetric keys are accepted only through sharedSecret';
    if (typeof jwk.k !== 'string') return 'it has no k';
    return { kid, alg, key: createSecretKey(Buffer.from(jwk.k, 'base64url')), kind: 'oct' };
  }
  const members = typeof kty === 'string' ? publicMembers[kty] : undefined;
  if (!members) return 'its kty is not RSA, EC or OKP';
  // A private key in a key set is a leak to stop, not a key to use: its private half may not
  // even match the public members a verifier reads (jose would import the private half).
  if (privateMembers.some((member) => jwk[member] !== undefined))
    return 'it carries private members (d…); publish only the public key';
  const publicJwk: Record<string, unknown> = {};
  for (const member of members) if (jwk[member] !== undefined) publicJwk[member] = jwk[member];
  let keyObject: KeyObject;
  try {
    // Validates the members (an EC point must be on its curve) and builds the key once.
    keyObject = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  } catch {
    return 'it is not a valid public key';
  }
  const kind = kindOf(keyObject);
  if (kind === undefined) return `its type or size is not accepted (RSA needs at least ${minRsaBits} bits)`;
  return { kid, alg, key: keyObject, kind };
}

/** Imports every usable key of a JWKS; unusable ones are logged (by index and kid) and skipped. */
export async function importKeySet(
  jwks: { readonly keys: readonly Record<string, unknown>[] },
  log: Logger,
  issuer: string,
): Promise<VerificationKey[]> {
  const keys: VerificationKey[] = [];
  for (const [index, jwk] of jwks.keys.entries()) {
    const imported = await importVerificationKey(jwk);
    if (typeof imported === 'string') {
      log.warn({ issuer, key_index: index, kid: jwk.kid }, `skipping a JWKS key: ${imported}`);
    } else {
      keys.push(imported);
    }
  }
  return keys;
}

/** The keys of one issuer, with their refresh policy. */
export class IssuerKeys {
  readonly #rule: NormalizedJwtRule;
  readonly #log: Logger;
  readonly #events: AuthEvents;
  #keys: readonly VerificationKey[] = [];
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;
  #closed = false;

  constructor(rule: NormalizedJwtRule, log: Logger, events: AuthEvents) {
    this.#rule = rule;
    this.#log = log;
    this.#events = events;
  }

  /** Loads the inline keys and fetches `jwksUri`. Never rejects: a dead issuer is logged. */
  async init(): Promise<void> {
    const rule = this.#rule;
    const fixed: VerificationKey[] = [];
    if (rule.sharedSecret !== undefined) {
      fixed.push({
        kid: undefined,
        alg: undefined,
        key: createSecretKey(Buffer.from(rule.sharedSecret)),
        kind: 'oct',
        anyKid: true,
      });
    }
    if (rule.jwks) fixed.push(...(await importKeySet(rule.jwks, this.#log, rule.issuer)));
    this.#keys = fixed;
    this.#fixed = fixed;
    if (rule.jwksUri !== undefined) await this.refresh();
    primeVerification(this.#keys, rule.algorithms);
  }

  #fixed: readonly VerificationKey[] = [];

  /** The current keys, without waiting. Starts a background refresh when they are older than the max age. */
  current(): readonly VerificationKey[] {
    if (this.#rule.jwksUri !== undefined && Date.now() - this.#fetchedAt > this.#rule.jwksMaxAgeMs) {
      void this.#refreshWithinCooldown();
    }
    return this.#keys;
  }

  /** True when a key with `kid` is loaded. */
  has(kid: string | undefined): boolean {
    if (kid === undefined) return this.#keys.length > 0;
    return this.#keys.some((key) => key.kid === kid);
  }

  /**
   * Refreshes for a `kid` we do not know, unless a refresh happened within the cooldown. Resolves
   * once the keys are as fresh as the cooldown allows.
   */
  async refreshForUnknownKid(): Promise<void> {
    if (this.#rule.jwksUri === undefined) return;
    await this.#refreshWithinCooldown();
  }

  #refreshWithinCooldown(): Promise<void> {
    if (this.#pending) return this.#pending;
    if (Date.now() - this.#lastAttempt < this.#rule.jwksRefreshCooldownMs) return Promise.resolve();
    return this.refresh();
  }

  /** Fetches `jwksUri` now (one fetch at a time). On failure the old keys stay in use. */
  refresh(): Promise<void> {
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  close(): void {
    this.#closed = true;
  }

  async #fetch(): Promise<void> {
    const { jwksUri, issuer, timeoutMs } = this.#rule;
    this.#lastAttempt = Date.now();
    try {
      const response = await fetch(jwksUri!, {
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/json' },
        redirect: 'error',
      });
      if (!response.ok) throw new Error(`the JWKS endpoint answered ${response.status}`);
      const body = (await response.json()) as unknown;
      if (typeof body !== 'object' || body === null || !Array.isArray((body as { keys?: unknown }).keys)) {
        throw new Error('the JWKS endpoint did not return {"keys":[…]}');
      }
      const fetched = await importKeySet(body as { keys: Record<string, unknown>[] }, this.#log, issuer);
      if (this.#closed) return;
      this.#keys = [...this.#fixed, ...fetched];
      this.#fetchedAt = Date.now();
      this.#log.debug({ issuer, keys: fetched.length }, 'JWKS fetched');
    } catch (error) {
      const stale = this.#keys.length > this.#fixed.length;
      const reason =
        error instanceof Error && error.name === 'TimeoutError'
          ? `timed out after ${timeoutMs} ms`
          : String((error as Error)?.message ?? error);
      if (stale) {
        this.#log.warn(
          { issuer, jwks_uri: jwksUri, reason },
          'JWKS refresh failed; serving the keys we have',
        );
        this.#events.jwksStale(issuer);
      } else {
        this.#log.error(
          { issuer, jwks_uri: jwksUri, reason },
          'JWKS fetch failed; tokens from this issuer are refused until it succeeds',
        );
        this.#events.jwksUnavailable(issuer);
      }
    }
  }
}
