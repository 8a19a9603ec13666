/**
 * Peer authentication through the real Knative server: `knative(...)` terminates mutual TLS
 * with certificates minted by a real CA carrying SPIFFE URIs, and the mesh's `STRICT` mode and
 * `source.principals` policy decide from what the socket showed.
 */
import { Agent, request as httpsRequest } from 'node:https';
import { auth } from '@sidecarless/auth';
import { createMesh, type Mesh } from '@sidecarless/core';
import { knative, type NodeServer } from '@sidecarless/knative';
import { captureLogs, createCa, type TestCa } from '@sidecarless/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const allowed = 'spiffe://cluster.local/ns/shop/sa/orders';
const denied = 'spiffe://cluster.local/ns/shop/sa/reports';

let ca: TestCa;
let rogueCa: TestCa;
let mesh: Mesh;
let tlsServer: NodeServer;
let plainServer: NodeServer;
let tlsPort: number;
let plainUrl: string;

beforeAll(async () => {
  ca = await createCa();
  rogueCa = await createCa({ commonName: 'Rogue CA' });
  const serverCert = await ca.issue();
  mesh = createMesh(
    {
      service: 'payments',
      logging: { destination: captureLogs().destination },
      auth: {
        peerAuthentication: { mtls: { mode: 'STRICT' } },
        policies: [
          {
            name: 'orders-only',
            action: 'ALLOW',
            rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/orders'] } }] }],
          },
        ],
      },
    },
    [auth],
  );
  const handler = (_request: Request, ctx: { peer?: unknown }) => Response.json({ peer: ctx.peer ?? null });
  tlsServer = knative(mesh, handler, {
    port: 0,
    shutdownSignals: false,
    env: {},
    // The server verifies the chain itself (rejectUnauthorized false lets the mesh, not the
    // TLS layer, answer an unverified client — with a 403 it can log).
    tls: {
      cert: serverCert.cert,
      key: serverCert.key,
      ca: ca.cert,
      requestCert: true,
      rejectUnauthorized: false,
    },
  });
  plainServer = knative(mesh, handler, { port: 0, shutdownSignals: false, env: {} });
  tlsPort = (await tlsServer.listen()).port;
  plainUrl = (await plainServer.listen()).url;
});
afterAll(async () => {
  await tlsServer?.close();
  await plainServer?.close();
  await mesh?.close();
});

function call(client?: { cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: tlsPort, path: '/pay', ca: ca.cert, agent: false, ...(client ?? {}) },
      (res) => {
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('knative terminating mutual TLS under STRICT', () => {
  it('answers 200 to the allowed SPIFFE principal, with ctx.peer from the certificate', async () => {
    const { status, body } = await call(await ca.issue({ usage: 'client', uris: [allowed] }));
    expect(status).toBe(200);
    expect(JSON.parse(body).peer).toMatchObject({
      principal: 'cluster.local/ns/shop/sa/orders',
      namespace: 'shop',
      source: 'tls',
    });
  });

  it('keeps the peer for every request on one keep-alive connection', async () => {
    const client = await ca.issue({ usage: 'client', uris: [allowed] });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    try {
      for (let i = 0; i < 3; i++) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = httpsRequest(
            { host: '127.0.0.1', port: tlsPort, path: '/pay', ca: ca.cert, agent, ...client },
            (res) => {
              sockets.add(res.socket);
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end();
        });
        expect(status).toBe(200);
      }
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it('answers 403 to a verified peer the policy does not allow', async () => {
    const { status, body } = await call(await ca.issue({ usage: 'client', uris: [denied] }));
    expect(status).toBe(403);
    expect(body).not.toContain('orders-only');
  });

  it('answers 403 to a client certificate from a CA the server does not trust', async () => {
    expect((await call(await rogueCa.issue({ usage: 'client', uris: [allowed] }))).status).toBe(403);
  });

  it('answers 403 to a TLS client without a certificate', async () => {
    expect((await call()).status).toBe(403);
  });

  it('refuses plaintext: 403 from the same mesh on a server without TLS', async () => {
    const response = await fetch(`${plainUrl}/pay`);
    expect(response.status).toBe(403);
    await response.body?.cancel();
  });
});

describe('knative connection facts', () => {
  it('feeds source.ip from the socket, not from x-forwarded-for', async () => {
    for (const [block, expected] of [
      ['127.0.0.1/32', 200],
      ['10.0.0.0/8', 403],
    ] as const) {
      const ipMesh = createMesh(
        {
          service: 'ip',
          logging: { destination: captureLogs().destination },
          auth: { policies: [{ rules: [{ from: [{ source: { ipBlocks: [block] } }] }] }] },
        },
        [auth],
      );
      const server = knative(ipMesh, () => new Response('ok'), { port: 0, shutdownSignals: false, env: {} });
      const { url } = await server.listen();
      try {
        const response = await fetch(url, { headers: { 'x-forwarded-for': '10.1.2.3' } });
        expect(response.status).toBe(expected);
        await response.body?.cancel();
      } finally {
        await server.close();
        await ipMesh.close();
      }
    }
  });
});
