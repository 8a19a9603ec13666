import type { X509Certificate } from 'node:crypto';

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

/**
 * A client certificate an adapter saw for this invocation. Servers that terminate TLS fill it from
 * `socket.getPeerX509Certificate()` and `socket.authorized`; the Lambda adapter from API Gateway's
 * mutual-TLS `clientCert.clientCertPem` (API Gateway has already verified it against its
 * truststore).
 *
 * @example
 * ```ts no-check
 * // in a TLS server adapter, per request
 * const socket = req.socket as TLSSocket;
 * const cert = socket.getPeerX509Certificate();
 * const facts = {
 *   platform: 'openfaas',
 *   sourceIp: socket.remoteAddress,
 *   transport: 'tls',
 *   peerCertificate: cert && { certificate: cert, source: 'tls', verified: socket.authorized },
 * };
 * ```
 */
export interface PeerCertificateFact {
  /** The leaf certificate, PEM text or parsed. */
  readonly certificate: string | X509Certificate;
  /** Who presented it to us. */
  readonly source: 'tls' | 'api-gateway';
  /** True when whoever terminated TLS verified the chain against its trusted CAs. */
  readonly verified: boolean;
}
