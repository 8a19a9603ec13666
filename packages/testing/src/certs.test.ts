import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createCa, parseCertificate } from './certs.js';

describe('createCa', () => {
  it('issues certificates that complete a real mutual TLS handshake with SPIFFE SANs', async () => {
    const ca = await createCa();
    const server = await ca.issue({ uris: ['spiffe://cluster.local/ns/shop/sa/payments'] });
    const client = await ca.issue({ usage: 'client', uris: ['spiffe://cluster.local/ns/shop/sa/orders'] });
    const httpsServer = https.createServer(
      { cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
        res.end(peer.subjectaltname);
      },
    );
    httpsServer.listen(0, '127.0.0.1');
    await once(httpsServer, 'listening');
    const { port } = httpsServer.address() as AddressInfo;
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(
          { host: '127.0.0.1', port, ca: ca.cert, cert: client.cert, key: client.key, path: '/' },
          (res) => {
            let text = '';
            res.on('data', (chunk) => {
              text += chunk;
            });
            res.on('end', () => resolve(text));
          },
        )
        .on('error', reject);
    });
    httpsServer.close();
    expect(body).toBe('URI:spiffe://cluster.local/ns/shop/sa/orders');
    expect(parseCertificate(server.cert).subjectAltName).toContain(
      'URI:spiffe://cluster.local/ns/shop/sa/payments',
    );
  });

  it('issues expired certificates that a client refuses', async () => {
    const ca = await createCa();
    const expired = await ca.issue({
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const server = tls.createServer({ cert: expired.cert, key: expired.key });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const error = await new Promise<Error>((resolve) => {
      tls.connect({ host: '127.0.0.1', port, ca: ca.cert, servername: 'localhost' }).on('error', resolve);
    });
    server.close();
    expect((error as NodeJS.ErrnoException).code).toBe('CERT_HAS_EXPIRED');
  });
});
