/**
 * The connection facts of a request the shared server accepted, for the auth stage: the TCP
 * peer's address, whether the connection was TLS, and the client certificate of a mutual-TLS
 * connection. Read from the socket, never from headers.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { InvocationFacts } from '../context.js';
import type { PeerCertificateFact } from '../types.js';

/** What {@link connectionFacts} returns. */
export type ConnectionFacts = Pick<InvocationFacts, 'sourceIp' | 'transport' | 'peerCertificate'>;

// The certificate does not change for the life of a connection: parse it once per socket, not
// once per keep-alive request (getPeerX509Certificate builds a new X509Certificate every call).
const factsOfSocket = Symbol('sidecarless.connection-facts');
type CachingSocket = TLSSocket & { [factsOfSocket]?: ConnectionFacts };

/**
 * The connection facts of `incoming`: `sourceIp` from the socket's remote address, `transport`
 * `tls` or `plaintext`, and `peerCertificate` when the client presented one (servers that set
 * `requestCert`). `verified` is the TLS layer's own verdict (`socket.authorized`) against the
 * server's `ca`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { connectionFacts } from '@sidecarless/core/node-server';
 *
 * createServer((incoming, res) => {
 *   res.end(JSON.stringify(connectionFacts(incoming))); // {"sourceIp":"127.0.0.1","transport":"plaintext"}
 * });
 * ```
 */
export function connectionFacts(incoming: IncomingMessage): ConnectionFacts {
  const socket = incoming.socket as CachingSocket;
  // A connection's facts do not change between its keep-alive requests: made once per socket.
  const known = socket[factsOfSocket];
  if (known !== undefined) return known;
  const sourceIp = socket.remoteAddress;
  let facts: ConnectionFacts;
  if (socket.encrypted !== true) {
    facts = Object.freeze({ sourceIp, transport: 'plaintext' as const });
  } else {
    const x509 = socket.getPeerX509Certificate();
    const certificate: PeerCertificateFact | undefined = x509
      ? { certificate: x509, source: 'tls', verified: socket.authorized }
      : undefined;
    facts = Object.freeze(
      certificate
        ? { sourceIp, transport: 'tls' as const, peerCertificate: certificate }
        : { sourceIp, transport: 'tls' as const },
    );
  }
  socket[factsOfSocket] = facts;
  return facts;
}
