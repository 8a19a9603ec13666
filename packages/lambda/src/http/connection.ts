/**
 * The connection facts of an HTTP event, for the auth stage: who connected (`sourceIp`), over
 * what (`transport`) and with which client certificate. This is the one place that reads them
 * out of Lambda events; the auth feature reads only the facts.
 */
import type { InvocationFacts } from '@sidecarless/core/adapter';

type ConnectionFacts = Partial<Pick<InvocationFacts, 'sourceIp' | 'transport' | 'peerCertificate'>>;

const none: ConnectionFacts = Object.freeze({});

/**
 * What API Gateway and Function URLs report about the caller. They always terminate TLS
 * themselves (both are HTTPS-only), and the client address they report is the TCP peer they
 * saw, not a header: it is as trustworthy as a socket address. ALB and VPC Lattice are not read:
 * an ALB listener may be plaintext, and its `x-forwarded-for` is a header anyone can send.
 */
export function connectionFactsOf(source: string, event: unknown): ConnectionFacts {
  const context = pick(event, 'requestContext');
  switch (source) {
    case 'api-gateway-rest': {
      const identity = pick(context, 'identity');
      return facts(pick(identity, 'sourceIp'), pick(identity, 'clientCert'));
    }
    case 'api-gateway-http':
    case 'function-url':
      return facts(
        pick(pick(context, 'http'), 'sourceIp'),
        pick(pick(context, 'authentication'), 'clientCert'),
      );
    default:
      return none;
  }
}

function facts(sourceIp: unknown, clientCert: unknown): ConnectionFacts {
  const pem = pick(clientCert, 'clientCertPem');
  return {
    transport: 'tls',
    sourceIp: typeof sourceIp === 'string' && sourceIp !== '' ? sourceIp : undefined,
    // API Gateway verified the chain against the domain's truststore before invoking us.
    peerCertificate:
      typeof pem === 'string' && pem !== ''
        ? { certificate: pem, source: 'api-gateway', verified: true }
        : undefined,
  };
}

function pick(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
