/**
 * Peer (mTLS) identity: from the certificate a TLS-terminating server verified, from API
 * Gateway's mutual-TLS `clientCert`, or from Envoy's `x-forwarded-client-cert` header when — and
 * only when — the request came from a proxy the configuration trusts. A SPIFFE URI SAN becomes
 * Istio's principal, `cluster.local/ns/<ns>/sa/<sa>`.
 */

import type { X509Certificate } from 'node:crypto';
import type { PeerCertificateFact, PeerIdentity } from '@sidecarless/core';
import { nodeBuiltin } from '@sidecarless/core/feature';

/** Istio's principal and namespace from a SPIFFE id, or undefined when it is not one. */
export function fromSpiffeId(uri: string): { principal: string; namespace: string | undefined } | undefined {
  if (!uri.startsWith('spiffe://')) return undefined;
  const principal = uri.slice('spiffe://'.length);
  if (principal === '' || principal.startsWith('/')) return undefined;
  const namespace = /\/ns\/([^/]+)(?:\/|$)/.exec(principal)?.[1];
  return { principal, namespace };
}

function identity(
  spiffeId: string | undefined,
  fallback: string,
  source: PeerIdentity['source'],
): PeerIdentity {
  const spiffe = spiffeId === undefined ? undefined : fromSpiffeId(spiffeId);
  return {
    principal: spiffe?.principal ?? fallback,
    spiffeId: spiffe ? spiffeId : undefined,
    namespace: spiffe?.namespace,
    source,
  };
}

/** The first SPIFFE URI SAN of a certificate. */
function spiffeIdOf(certificate: X509Certificate): string | undefined {
  const names = certificate.subjectAltName;
  if (!names) return undefined;
  for (const entry of names.split(', ')) {
    if (entry.startsWith('URI:spiffe://')) return entry.slice(4);
  }
  return undefined;
}

/**
 * Re-verifies `certificate` against a trust bundle: issued by one of the CAs (signature checked)
 * and within its validity window. One level: the bundle holds the issuing CAs.
 */
export function trustedBy(
  certificate: X509Certificate,
  bundle: readonly X509Certificate[],
  now = Date.now(),
): boolean {
  if (now < Date.parse(certificate.validFrom) || now > Date.parse(certificate.validTo)) return false;
  return bundle.some((ca) => certificate.checkIssued(ca) && certificate.verify(ca.publicKey));
}

/** The identity in a certificate fact, or undefined when it is not verified or not trusted. */
export function identityFromCertificate(
  fact: PeerCertificateFact,
  bundle: readonly X509Certificate[],
): PeerIdentity | undefined {
  return checkCertificate(fact, bundle)?.identity;
}

/** {@link identityFromCertificate}, with the time (epoch ms) after which the certificate expires. */
export function checkCertificate(
  fact: PeerCertificateFact,
  bundle: readonly X509Certificate[],
): { identity: PeerIdentity; validUntil: number } | undefined {
  if (!fact.verified) return undefined;
  let certificate: X509Certificate;
  try {
    certificate =
      typeof fact.certificate === 'string'
        ? new (nodeBuiltin('node:crypto').X509Certificate)(fact.certificate)
        : fact.certificate;
  } catch {
    return undefined;
  }
  // A server's own TLS stack already checked the chain; API Gateway's truststore is not ours, so
  // when a bundle is configured its certificates are checked again.
  if (bundle.length > 0 && fact.source === 'api-gateway' && !trustedBy(certificate, bundle)) return undefined;
  return {
    identity: identity(spiffeIdOf(certificate), certificate.subject.replace(/\n/g, ','), fact.source),
    validUntil: Date.parse(certificate.validTo),
  };
}

/** One element of an `x-forwarded-client-cert` header, keys lower-cased. */
export type XfccElement = Readonly<Record<string, string>>;

/**
 * Parses Envoy's `x-forwarded-client-cert`: elements separated by commas, `key=value` pairs by
 * semicolons, values optionally double-quoted with `\"` escapes. Returns undefined when malformed.
 */
export function parseXfcc(header: string): XfccElement[] | undefined {
  const elements: XfccElement[] = [];
  let current: Record<string, string> = {};
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && header[i] === ' ') i++;
    const eq = header.indexOf('=', i);
    if (eq < 0) return undefined;
    const key = header.slice(i, eq).trim().toLowerCase();
    if (key === '') return undefined;
    i = eq + 1;
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < n && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < n) i++;
        value += header[i];
        i++;
      }
      if (i >= n) return undefined;
      i++;
    } else {
      while (i < n && header[i] !== ';' && header[i] !== ',') value += header[i++];
    }
    // A key may repeat (several URI or DNS SANs); the first one is kept.
    current[key] ??= value;
    if (i < n && header[i] === ',') {
      elements.push(current);
      current = {};
    } else if (i < n && header[i] !== ';') {
      return undefined;
    }
    i++;
  }
  if (Object.keys(current).length > 0) elements.push(current);
  return elements.length > 0 ? elements : undefined;
}

/**
 * The identity in an `x-forwarded-client-cert` header. The last element describes the client of
 * the proxy nearest to us (each proxy appends). With a trust bundle, the element must carry the
 * certificate (`Cert=`) and it must verify.
 */
export function identityFromXfcc(
  header: string,
  bundle: readonly X509Certificate[],
): PeerIdentity | undefined {
  const elements = parseXfcc(header);
  const element = elements?.[elements.length - 1];
  if (!element) return undefined;
  let spiffeId = element.uri;
  let subject = element.subject;
  if (bundle.length > 0) {
    if (element.cert === undefined) return undefined;
    let certificate: X509Certificate;
    try {
      certificate = new (nodeBuiltin('node:crypto').X509Certificate)(decodeURIComponent(element.cert));
    } catch {
      return undefined;
    }
    if (!trustedBy(certificate, bundle)) return undefined;
    spiffeId = spiffeIdOf(certificate);
    subject = certificate.subject.replace(/\n/g, ',');
  }
  if (spiffeId === undefined && subject === undefined) return undefined;
  return identity(spiffeId, subject ?? '', 'xfcc');
}
