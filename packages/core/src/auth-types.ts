/**
 * Identity types the kernel owns, so handlers and other features can read `ctx.auth` and
 * `ctx.peer` without loading the auth feature.
 */

/** The verified caller behind a JWT (Istio's request principal). */
export interface AuthInfo {
  /** `iss` claim. */
  readonly issuer: string;
  /** `sub` claim. */
  readonly subject: string | undefined;
  /** `aud` claim, always as a list. */
  readonly audiences: readonly string[];
  /** Istio's request principal: `iss/sub`. */
  readonly principal: string;
  /** Every claim of the verified token. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/** The workload on the other end of an mTLS connection (Istio's source principal). */
export interface PeerIdentity {
  /** Istio's form, `cluster.local/ns/<ns>/sa/<sa>`, from a SPIFFE URI SAN; otherwise the subject. */
  readonly principal: string;
  /** The SPIFFE id, when the certificate carries one. */
  readonly spiffeId: string | undefined;
  /** The namespace part of a SPIFFE id. */
  readonly namespace: string | undefined;
  /** Where the identity came from. */
  readonly source: 'tls' | 'api-gateway' | 'xfcc';
}
