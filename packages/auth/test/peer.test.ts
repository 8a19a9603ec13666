/**
 * Peer identity from real certificates: a real mutual-TLS server on 127.0.0.1 filling the
 * connection facts an adapter server must fill, and `x-forwarded-client-cert` from trusted and untrusted proxies.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createMesh, type HttpHandler, type Mesh, type PeerIdentity } from '@sidecarless/core';
import { type InvocationFacts, prepareHttp } from '@sidecarless/core/adapter';
import { captureLogs, createCa, type TestCa } from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { AuthOptions } from '../src/index.ts';
import { auth } from '../src/index.ts';

let ca: TestCa;
let rogueCa: TestCa;
let orders: { cert: string; key: string };
let rogue: { cert: string; key: string };
const spiffe = 'spiffe://cluster.local/ns/shop/sa/orders';
const meshes: Mesh[] = [];

beforeAll(async () => {
  ca = await createCa();
  rogueCa = await createCa({ commonName: 'Rogue CA' });
  orders = await ca.issue({ usage: 'client', uris: [spiffe] });
  rogue = await rogueCa.issue({ usage: 'client', uris: [spiffe] });
});
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
});

function meshWith(section: AuthOptions): Mesh {
  const mesh = createMesh(
    { service: 'payments', logging: { destination: captureLogs().destination }, auth: section },
    [auth],
  );
  meshes.push(mesh);
  return mesh;
}

const whoami: HttpHandler = (_request, ctx) => Response.json({ peer: ctx.peer ?? null });

type Body = { peer: PeerIdentity | null };

describe('direct mutual TLS (the facts a server adapter fills)', () => {
  let server: ReturnType<typeof createHttpsServer>;
  let port: number;
  let plainServer: ReturnType<typeof createHttpServer>;
  let plainPort: number;
  let mesh: Mesh;
  let mode: 'STRICT' | 'PERMISSIVE' = 'STRICT';

  // What an OpenFaaS/Knative server does per request: read the socket, fill the facts.
  function serve(request: IncomingMessage, response: ServerResponse) {
    const socket = request.socket as TLSSocket;
    const encrypted = 'encrypted' in socket && socket.encrypted === true;
    const certificate = encrypted ? socket.getPeerX509Certificate() : undefined;
    const facts: InvocationFacts = {
      platform: 'openfaas',
      sourceIp: socket.remoteAddress,
      transport: encrypted ? 'tls' : 'plaintext',
      peerCertificate: certificate && { certificate, source: 'tls', verified: socket.authorized },
    };
    const run = prepareHttp(mesh, whoami);
    void run(new Request(`http://localhost${request.url}`), facts).then(async (answer) => {
      response.writeHead(answer.status, { 'content-type': 'application/json' });
      response.end(Buffer.from(await answer.arrayBuffer()));
    });
  }

  beforeAll(async () => {
    const serverCert = await ca.issue();
    server = createHttpsServer(
      {
        cert: serverCert.cert,
        key: serverCert.key,
        ca: ca.cert,
        requestCert: true,
        rejectUnauthorized: false,
      },
      serve,
    );
    plainServer = createHttpServer(serve);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => plainServer.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    plainPort = (plainServer.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => plainServer.close(resolve));
  });

  function call(client?: { cert: string; key: string }): Promise<{ status: number; body: Body }> {
    mesh = meshWith({ peerAuthentication: { mtls: { mode } } });
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port, path: '/who', ca: ca.cert, ...(client ?? {}), agent: false },
        (res) => {
          let text = '';
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  }

  it('turns a verified SPIFFE client certificate into the Istio principal', async () => {
    mode = 'STRICT';
    const { status, body } = await call(orders);
    expect(status).toBe(200);
    expect(body.peer).toEqual({
      principal: 'cluster.local/ns/shop/sa/orders',
      spiffeId: spiffe,
      namespace: 'shop',
      source: 'tls',
    });
  });

  it('refuses a certificate from an unknown CA under STRICT', async () => {
    mode = 'STRICT';
    expect((await call(rogue)).status).toBe(403);
  });

  it('refuses a TLS client without a certificate under STRICT', async () => {
    mode = 'STRICT';
    expect((await call()).status).toBe(403);
  });

  it('accepts a TLS client without a certificate under PERMISSIVE, with no peer', async () => {
    mode = 'PERMISSIVE';
    const { status, body } = await call();
    expect(status).toBe(200);
    expect(body.peer).toBeNull();
  });

  it('refuses plaintext under STRICT and accepts it under PERMISSIVE', async () => {
    for (const [setting, expected] of [
      ['STRICT', 403],
      ['PERMISSIVE', 200],
    ] as const) {
      mesh = meshWith({ peerAuthentication: { mtls: { mode: setting } } });
      const response = await fetch(`http://127.0.0.1:${plainPort}/who`);
      expect(response.status).toBe(expected);
      await response.body?.cancel();
    }
  });
});

// API Gateway's client certificate and source address are translated by @sidecarless/lambda,
// the one place that reads Lambda events; its tests (packages/lambda/test/wiring.test.ts) cover them.

describe('x-forwarded-client-cert', () => {
  const xfcc = `By=spiffe://cluster.local/ns/shop/sa/payments;Hash=abc;Subject="CN=orders";URI=${spiffe}`;

  function send(mesh: Mesh, sourceIp: string, header: string) {
    return prepareHttp(mesh, whoami)(
      new Request('http://payments.test/', { headers: { 'x-forwarded-client-cert': header } }),
      {
        platform: 'knative',
        sourceIp,
      },
    );
  }

  it('believes the header only from a trusted proxy', async () => {
    const mesh = meshWith({ trustedProxies: ['10.0.0.0/8'] });
    const trusted = (await (await send(mesh, '10.1.1.1', xfcc)).json()) as Body;
    expect(trusted.peer).toMatchObject({ principal: 'cluster.local/ns/shop/sa/orders', source: 'xfcc' });
    const untrusted = (await (await send(mesh, '192.168.1.1', xfcc)).json()) as Body;
    expect(untrusted.peer).toBeNull();
  });

  it('uses the element added by the nearest proxy', async () => {
    const mesh = meshWith({ trustedProxies: ['10.0.0.0/8'] });
    const chained = `URI=spiffe://cluster.local/ns/other/sa/first,${xfcc}`;
    expect(((await (await send(mesh, '10.1.1.1', chained)).json()) as Body).peer?.namespace).toBe('shop');
  });

  it('requires a certificate that verifies when a trust bundle is set', async () => {
    const mesh = meshWith({ trustedProxies: ['10.0.0.0/8'], peerAuthentication: { trustBundle: [ca.cert] } });
    expect(((await (await send(mesh, '10.1.1.1', xfcc)).json()) as Body).peer).toBeNull();
    const withCert = `${xfcc};Cert="${encodeURIComponent(orders.cert)}"`;
    expect(((await (await send(mesh, '10.1.1.1', withCert)).json()) as Body).peer?.principal).toBe(
      'cluster.local/ns/shop/sa/orders',
    );
    const withRogue = `${xfcc};Cert="${encodeURIComponent(rogue.cert)}"`;
    expect(((await (await send(mesh, '10.1.1.1', withRogue)).json()) as Body).peer).toBeNull();
  });

  it('takes the original client from x-forwarded-for only behind a trusted proxy', async () => {
    const mesh = meshWith({
      trustedProxies: ['10.0.0.0/8'],
      policies: [{ name: 'office', rules: [{ from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'] } }] }] }],
    });
    const send = (sourceIp: string, xff: string) =>
      prepareHttp(mesh, whoami)(
        new Request('http://payments.test/', { headers: { 'x-forwarded-for': xff } }),
        {
          platform: 'knative',
          sourceIp,
        },
      );
    // The rightmost untrusted hop is the client; hops the client wrote to the left are ignored.
    expect((await send('10.1.1.1', '198.51.100.7, 203.0.113.5, 10.2.2.2')).status).toBe(200);
    expect((await send('10.1.1.1', '203.0.113.5, 198.51.100.7')).status).toBe(403);
    expect((await send('192.168.1.1', '203.0.113.5')).status).toBe(403);
  });

  it('feeds source.principal in authorization policies', async () => {
    const mesh = meshWith({
      trustedProxies: ['10.0.0.0/8'],
      policies: [
        {
          name: 'only-orders',
          rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/orders'] } }] }],
        },
      ],
    });
    expect((await send(mesh, '10.1.1.1', xfcc)).status).toBe(200);
    expect((await send(mesh, '10.1.1.1', `URI=spiffe://cluster.local/ns/shop/sa/intruder`)).status).toBe(403);
  });
});
