import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createMesh, type Mesh } from '@sidecarless/core';
import {
  type CertifiedKey,
  createCa,
  createUpstreamServer,
  type TestCa,
  type UpstreamServer,
} from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { http } from '../src/http.ts';
import { outbound } from '../src/index.ts';

const spiffeServer = 'spiffe://cluster.local/ns/shop/sa/inventory';
const spiffeClient = 'spiffe://cluster.local/ns/shop/sa/orders';

let ca: TestCa;
let serverCert: CertifiedKey;
let clientCert: CertifiedKey;
let directory: string;
const meshes: Mesh[] = [];
const servers: UpstreamServer[] = [];

beforeAll(async () => {
  ca = await createCa();
  serverCert = await ca.issue({ uris: [spiffeServer] });
  clientCert = await ca.issue({ usage: 'client', commonName: 'orders', uris: [spiffeClient] });
  directory = await mkdtemp(join(tmpdir(), 'scl-tls-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

afterEach(async () => {
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function tlsServer(cert: CertifiedKey, requestCert = false): Promise<UpstreamServer> {
  const server = await createUpstreamServer({
    tls: { cert: cert.cert, key: cert.key, ca: ca.cert, requestCert },
  });
  servers.push(server);
  return server;
}

function mesh(upstream: Record<string, unknown>): Mesh {
  const created = createMesh(
    {
      service: 'orders',
      upstreams: { inventory: upstream } as never,
      logging: { level: 'silent' },
    },
    [outbound, http],
  );
  meshes.push(created);
  return created;
}

describe('TLS SIMPLE', () => {
  it('verifies the server against caCertificates and pins its SPIFFE SAN', async () => {
    const server = await tlsServer(serverCert);
    const m = mesh({
      endpoints: server.url,
      tls: { mode: 'SIMPLE', caCertificates: ca.cert, subjectAltNames: [spiffeServer] },
    });
    const response = await m.upstream('inventory').fetch('/');
    expect(response.status).toBe(200);
  });

  it('fails with "unknown CA" for a server signed by a rogue CA, without retrying into plaintext', async () => {
    const rogue = await createCa({ commonName: 'Rogue CA' });
    const server = await tlsServer(await rogue.issue({ uris: [spiffeServer] }));
    const m = mesh({ endpoints: server.url, tls: { mode: 'SIMPLE', caCertificates: ca.cert } });
    const error = await m
      .upstream('inventory')
      .fetch('/')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SCL_ERR_UPSTREAM_TLS_UNKNOWN_CA', status: 502 });
    expect((error as Error).message).toContain('not signed by a trusted CA');
    expect(server.requests).toHaveLength(0);
  });

  it('fails with "expired" for an expired server certificate', async () => {
    const expired = await ca.issue({
      uris: [spiffeServer],
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const server = await tlsServer(expired);
    const m = mesh({ endpoints: server.url, tls: { mode: 'SIMPLE', caCertificates: ca.cert } });
    await expect(m.upstream('inventory').fetch('/')).rejects.toMatchObject({
      code: 'SCL_ERR_UPSTREAM_TLS_EXPIRED',
    });
  });

  it('fails with "wrong SAN" when the server is another workload', async () => {
    const server = await tlsServer(await ca.issue({ uris: ['spiffe://cluster.local/ns/shop/sa/impostor'] }));
    const m = mesh({
      endpoints: server.url,
      tls: { mode: 'SIMPLE', caCertificates: ca.cert, subjectAltNames: [spiffeServer] },
    });
    const error = await m
      .upstream('inventory')
      .fetch('/')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SCL_ERR_UPSTREAM_TLS_WRONG_SAN' });
    expect((error as Error).message).toContain('spiffe://cluster.local/ns/shop/sa/impostor');
  });

  it('fails with "wrong SAN" when the host name is not in the certificate and no SAN is pinned', async () => {
    const server = await tlsServer(await ca.issue({ dnsNames: ['other.internal'], ipAddresses: [] }));
    const m = mesh({ endpoints: server.url, tls: { mode: 'SIMPLE', caCertificates: ca.cert } });
    await expect(m.upstream('inventory').fetch('/')).rejects.toMatchObject({
      code: 'SCL_ERR_UPSTREAM_TLS_WRONG_SAN',
    });
  });

  it('rejects an http:// endpoint when tls is configured', () => {
    expect(() =>
      createMesh(
        {
          service: 'orders',
          upstreams: { inventory: { endpoints: 'http://127.0.0.1:1', tls: { mode: 'SIMPLE' } } },
        },
        [outbound, http],
      ),
    ).toThrow(ConfigError);
  });
});

describe('TLS MUTUAL', () => {
  it('presents the client certificate the server requires', async () => {
    const server = await tlsServer(serverCert, true);
    const m = mesh({
      endpoints: server.url,
      tls: {
        mode: 'MUTUAL',
        caCertificates: ca.cert,
        clientCertificate: clientCert.cert,
        privateKey: clientCert.key,
        subjectAltNames: [spiffeServer],
      },
    });
    expect((await m.upstream('inventory').fetch('/')).status).toBe(200);
    expect(server.requests[0]?.clientCertificateSubject).toBe('orders');
  });

  it('fails with "client certificate refused" when the server does not accept ours', async () => {
    const server = await tlsServer(serverCert, true);
    const rogue = await createCa({ commonName: 'Rogue CA' });
    const stranger = await rogue.issue({ usage: 'client', uris: [spiffeClient] });
    const m = mesh({
      endpoints: server.url,
      tls: {
        mode: 'MUTUAL',
        caCertificates: ca.cert,
        clientCertificate: stranger.cert,
        privateKey: stranger.key,
      },
    });
    const error = await m
      .upstream('inventory')
      .fetch('/')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SCL_ERR_UPSTREAM_TLS_CLIENT_CERT_REFUSED' });
    expect(server.requests).toHaveLength(0);
  });

  it('reads material from files and uses a rotated client certificate on the next connection', async () => {
    const server = await tlsServer(serverCert, true);
    const certPath = join(directory, 'tls.crt');
    const keyPath = join(directory, 'tls.key');
    const caPath = join(directory, 'ca.crt');
    await writeFile(certPath, clientCert.cert);
    await writeFile(keyPath, clientCert.key);
    await writeFile(caPath, ca.cert);
    const m = mesh({
      endpoints: server.url,
      connectionPool: { http: { maxRequestsPerConnection: 1 } },
      tls: { mode: 'MUTUAL', caCertificates: caPath, clientCertificate: certPath, privateKey: keyPath },
    });
    expect((await m.upstream('inventory').fetch('/')).status).toBe(200);
    expect(server.requests[0]?.clientCertificateSubject).toBe('orders');

    const rotated = await ca.issue({ usage: 'client', commonName: 'orders-rotated', uris: [spiffeClient] });
    const reloads: { ok: boolean; at: number }[] = [];
    const listener = (message: unknown) =>
      reloads.push({ ok: (message as { ok: boolean }).ok, at: Date.now() });
    subscribe('sidecarless:upstream:tls-reload', listener);
    // Write-then-rename, as secret volumes update: the watcher sees the directory change.
    await writeFile(`${keyPath}.new`, rotated.key);
    await writeFile(`${certPath}.new`, rotated.cert);
    await rename(`${keyPath}.new`, keyPath);
    await rename(`${certPath}.new`, certPath);
    const renamedAt = Date.now();
    for (let waited = 0; waited < 3_000 && !reloads.some((r) => r.ok && r.at >= renamedAt); waited += 20)
      await new Promise((resolve) => setTimeout(resolve, 20));
    unsubscribe('sidecarless:upstream:tls-reload', listener);
    expect(reloads.some((r) => r.ok && r.at >= renamedAt)).toBe(true);
    expect((await m.upstream('inventory').fetch('/')).status).toBe(200);
    expect(server.connections).toBe(2);
    expect(server.requests[1]?.clientCertificateSubject).toBe('orders-rotated');
  });

  it('keeps the previous certificate when a rotated file is invalid', async () => {
    const server = await tlsServer(serverCert, true);
    const sub = await mkdtemp(join(directory, 'bad-'));
    const certPath = join(sub, 'tls.crt');
    const keyPath = join(sub, 'tls.key');
    await writeFile(certPath, clientCert.cert);
    await writeFile(keyPath, clientCert.key);
    const m = mesh({
      endpoints: server.url,
      connectionPool: { http: { maxRequestsPerConnection: 1 } },
      tls: { mode: 'MUTUAL', caCertificates: ca.cert, clientCertificate: certPath, privateKey: keyPath },
    });
    await m.ready();
    const reloaded = new Promise<unknown>((resolve) => {
      const listener = (message: unknown) => {
        unsubscribe('sidecarless:upstream:tls-reload', listener);
        resolve(message);
      };
      subscribe('sidecarless:upstream:tls-reload', listener);
    });
    await writeFile(certPath, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    expect(await reloaded).toMatchObject({ ok: false });
    expect((await m.upstream('inventory').fetch('/')).status).toBe(200);
    expect(server.requests[0]?.clientCertificateSubject).toBe('orders');
  });
});

describe('HTTP/2', () => {
  it('speaks HTTP/2 to a TLS upstream that offers it when h2UpgradePolicy is UPGRADE', async () => {
    const { createSecureServer } = await import('node:http2');
    const h2 = createSecureServer(
      { cert: serverCert.cert, key: serverCert.key, allowHTTP1: false },
      (request, response) => {
        response.end(`version ${request.httpVersion}`);
      },
    );
    await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
    const { port } = h2.address() as { port: number };
    try {
      const m = mesh({
        endpoints: `https://127.0.0.1:${port}`,
        connectionPool: { http: { h2UpgradePolicy: 'UPGRADE' } },
        tls: { mode: 'SIMPLE', caCertificates: ca.cert, subjectAltNames: [spiffeServer] },
      });
      const response = await m.upstream('inventory').fetch('/');
      expect(await response.text()).toBe('version 2.0');
      await m.close();
    } finally {
      await new Promise((resolve) => h2.close(resolve));
    }
  });
});

describe('TLS material errors', () => {
  it('fails createMesh (at init) with a ConfigError naming the field when a certificate file is missing', async () => {
    const error = await failure(() =>
      mesh({
        endpoints: 'https://127.0.0.1:1',
        tls: {
          mode: 'MUTUAL',
          caCertificates: ca.cert,
          clientCertificate: join(directory, 'missing.crt'),
          privateKey: clientCert.key,
        },
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]?.path).toBe('upstreams.inventory.tls.clientCertificate');
    expect((error as Error).message).toContain('ENOENT');
  });

  it('reports a certificate that does not match its key without showing the key', async () => {
    const other = await ca.issue({ usage: 'client' });
    const error = await failure(() =>
      mesh({
        endpoints: 'https://127.0.0.1:1',
        tls: {
          mode: 'MUTUAL',
          caCertificates: ca.cert,
          clientCertificate: clientCert.cert,
          privateKey: other.key,
        },
      }),
    );
    expect(error).toMatchObject({ issues: [expect.objectContaining({ path: 'upstreams.inventory.tls' })] });
    expect((error as Error).message).not.toContain(other.key.split('\n')[1]!);
  });
});

/** What `create` throws, or the rejection of the mesh's ready(). */
async function failure(create: () => { ready(): Promise<void> }): Promise<unknown> {
  try {
    return await create()
      .ready()
      .then(() => undefined);
  } catch (error) {
    return error;
  }
}

describe('connectionPool.http.http1MaxPendingRequests without tcp.maxConnections', () => {
  /**
   * A TCP relay that holds each connection 300 ms before passing it to the TLS server, so every
   * request waits for its connection's handshake: Envoy's pending requests.
   */
  async function slowHandshake(target: UpstreamServer): Promise<{ url: string; close(): Promise<void> }> {
    const { createServer, connect } = await import('node:net');
    const { port } = new URL(target.url);
    const sockets = new Set<import('node:net').Socket>();
    const relay = createServer((socket) => {
      sockets.add(socket);
      setTimeout(() => {
        const onward = connect(Number(port), '127.0.0.1');
        sockets.add(onward);
        socket.pipe(onward).pipe(socket);
        const drop = () => {
          socket.destroy();
          onward.destroy();
        };
        socket.on('error', drop).on('close', drop);
        onward.on('error', drop).on('close', drop);
      }, 300);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const address = relay.address() as import('node:net').AddressInfo;
    return {
      url: `https://localhost:${address.port}`,
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          relay.close(() => resolve());
        }),
    };
  }

  it('fails fast once that many requests wait for their connections to open', async () => {
    const server = await tlsServer(serverCert);
    const relay = await slowHandshake(server);
    try {
      const m = mesh({
        endpoints: relay.url,
        tls: { mode: 'SIMPLE', caCertificates: ca.cert },
        connectionPool: { http: { http1MaxPendingRequests: 3 } },
      });
      await m.ready();
      const client = m.upstream('inventory');
      const started = Date.now();
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, () =>
          client.fetch('/').then(
            (response) => ({ status: response.status, at: Date.now() - started }),
            (error: { code: string; status: number }) => ({ code: error.code, at: Date.now() - started }),
          ),
        ),
      );
      const answered = outcomes.filter((outcome) => 'status' in outcome);
      const refused = outcomes.filter((outcome) => 'code' in outcome);
      // Three wait for their handshakes and are answered; the other five are refused at once.
      expect(answered.map((outcome) => outcome.status)).toEqual([200, 200, 200]);
      expect(refused.map((outcome) => outcome.code)).toEqual(Array(5).fill('SCL_ERR_UPSTREAM_OVERFLOW'));
      for (const outcome of refused) expect(outcome.at).toBeLessThan(150);
      for (const outcome of answered) expect(outcome.at).toBeGreaterThanOrEqual(290);
      // Once the connections are open nothing waits: a burst of three more is answered.
      const again = await Promise.all([client.fetch('/'), client.fetch('/'), client.fetch('/')]);
      expect(again.map((response) => response.status)).toEqual([200, 200, 200]);
    } finally {
      await relay.close();
    }
  });

  it('refuses a limit of 0 without tcp.maxConnections, naming the fix', () => {
    expect(() =>
      createMesh(
        {
          service: 'orders',
          upstreams: {
            inventory: {
              endpoints: 'https://inventory.internal',
              connectionPool: { http: { http1MaxPendingRequests: 0 } },
            },
          },
        },
        [outbound, http],
      ),
    ).toThrow(
      /upstreams\.inventory\.connectionPool\.http\.http1MaxPendingRequests: 0 without tcp\.maxConnections.*set tcp\.maxConnections too/,
    );
  });
});
