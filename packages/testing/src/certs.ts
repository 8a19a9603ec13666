/**
 * Certificates minted in the test process: a CA, and server/client certificates it signs with
 * DNS, IP and URI (SPIFFE) subject alternative names and any validity window — so TLS tests use
 * real handshakes with real, checkable certificates (including expired ones and rogue CAs).
 * Keys are ECDSA P-256: generating them takes about a millisecond.
 */
// @peculiar/x509 resolves its services through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const day = 86_400_000;

/** A certificate and its private key, both PEM. */
export interface CertifiedKey {
  /** The certificate, PEM. */
  readonly cert: string;
  /** The private key, PKCS#8 PEM. */
  readonly key: string;
}

/** What to put in an issued certificate. */
export interface IssueOptions {
  commonName?: string;
  /** DNS SANs. Default `['localhost']` for server certificates. */
  dnsNames?: readonly string[];
  /** IP SANs. Default `['127.0.0.1']` for server certificates. */
  ipAddresses?: readonly string[];
  /** URI SANs, for example `spiffe://cluster.local/ns/shop/sa/payments`. */
  uris?: readonly string[];
  /** Default: an hour ago. */
  notBefore?: Date;
  /** Default: a day from now. */
  notAfter?: Date;
  /** Extended key usage. Default `server`. */
  usage?: 'server' | 'client' | 'both';
}

/** A test certificate authority. */
export interface TestCa extends CertifiedKey {
  /** Issues a leaf certificate signed by this CA. */
  issue(options?: IssueOptions): Promise<CertifiedKey>;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  const base64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${base64}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(8)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

/**
 * Creates a self-signed CA.
 *
 * @example
 * ```ts
 * import https from 'node:https';
 * import { createCa } from '@sidecarless/testing';
 *
 * const ca = await createCa();
 * const server = await ca.issue({ uris: ['spiffe://cluster.local/ns/shop/sa/payments'] });
 * const client = await ca.issue({ usage: 'client', uris: ['spiffe://cluster.local/ns/shop/sa/orders'] });
 * https.createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true });
 * ```
 */
export async function createCa(
  options: { commonName?: string; notBefore?: Date; notAfter?: Date } = {},
): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
  const name = `CN=${options.commonName ?? 'Sidecarless Test CA'}`;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    notBefore: options.notBefore ?? new Date(Date.now() - day),
    notAfter: options.notAfter ?? new Date(Date.now() + 30 * day),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const caKeyPem = await exportKey(keys.privateKey);

  async function issue(issueOptions: IssueOptions = {}): Promise<CertifiedKey> {
    const usage = issueOptions.usage ?? 'server';
    const leafKeys = (await webcrypto.subtle.generateKey(algorithm, true, [
      'sign',
      'verify',
    ])) as CryptoKeyPair;
    const isServer = usage !== 'client';
    const dnsNames = issueOptions.dnsNames ?? (isServer ? ['localhost'] : []);
    const ipAddresses = issueOptions.ipAddresses ?? (isServer ? ['127.0.0.1'] : []);
    const altNames: x509.JsonGeneralName[] = [
      ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
      ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ...(issueOptions.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ];
    const ekus =
      usage === 'server'
        ? [x509.ExtendedKeyUsage.serverAuth]
        : usage === 'client'
          ? [x509.ExtendedKeyUsage.clientAuth]
          : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
    const extensions: x509.Extension[] = [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
        true,
      ),
      new x509.ExtendedKeyUsageExtension(ekus, false),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ];
    if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false));
    const leaf = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: `CN=${issueOptions.commonName ?? (isServer ? 'localhost' : 'client')}`,
      issuer: caCert.subject,
      notBefore: issueOptions.notBefore ?? new Date(Date.now() - 3_600_000),
      notAfter: issueOptions.notAfter ?? new Date(Date.now() + day),
      publicKey: leafKeys.publicKey,
      signingKey: keys.privateKey,
      signingAlgorithm: algorithm,
      extensions,
    });
    return { cert: leaf.toString('pem'), key: await exportKey(leafKeys.privateKey) };
  }

  return { cert: caCert.toString('pem'), key: caKeyPem, issue };
}

/** Parses a PEM certificate with Node's own X509Certificate (for assertions). */
export function parseCertificate(pem: string): X509Certificate {
  return new X509Certificate(pem);
}
