/**
 * The `Host` header and the request target on every adapter that receives HTTP on a socket: the
 * URL a handler and the authorization policies see is built from the connection's scheme, a
 * checked authority and the target's path — never from a string a header can shape. Requests
 * are written as raw bytes on a socket (no Fetch client can forge `Host`).
 *
 * The fuzz sends random Host × target pairs against an ALLOW policy and asserts the decision
 * depends on the target's normalised path alone; its oracle normalises with the WHATWG URL
 * parser, not with the mesh's own code.
 */
import { connect } from 'node:net';
import type { MeshOptions } from '@sidecarless/core';
import { seeded } from '@sidecarless/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters } from './adapters/index.ts';
import { type RunningFunction, startWithMeshOptions } from './harness.ts';

const policyOptions: Partial<MeshOptions> = {
  auth: {
    policies: [
      {
        name: 'public-only',
        action: 'ALLOW',
        rules: [{ to: [{ operation: { paths: ['/echo', '/url', '/public/*'] } }] }],
      },
    ],
  },
};

interface RawAnswer {
  status: number;
  body: string;
}

/** Writes one request as raw bytes (`Connection: close`) and reads the whole answer. */
function sendRaw(
  fn: RunningFunction,
  target: string,
  host: string | undefined,
  method = 'GET',
): Promise<RawAnswer> {
  const socketInfo = fn.socket!;
  let line = `${method} ${target} HTTP/1.1\r\n`;
  let headers = host === undefined ? '' : `Host: ${host}\r\n`;
  if (socketInfo.pathHeader) {
    // The platform routes only `/`: the path travels in a header, the query stays on the target.
    const query = target.includes('?') ? target.slice(target.indexOf('?')) : '';
    const path = target.startsWith('/') ? target.split('?', 1)[0]! : new URL(target).pathname;
    line = `${method} /${query} HTTP/1.1\r\n`;
    headers += `${socketInfo.pathHeader}: ${path}\r\n`;
  }
  return new Promise((resolve, reject) => {
    const socket = connect(socketInfo.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${target} (Host: ${host})`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      resolve({ status, body });
    });
    // Written, not ended: the server closes after its answer (`Connection: close`).
    socket.write(`${line}${headers}Connection: close\r\n\r\n`);
  });
}

/** A JSON body inside a possibly chunked answer. */
function jsonOf(body: string): Record<string, unknown> {
  const start = body.indexOf('{');
  const end = body.lastIndexOf('}');
  return JSON.parse(body.slice(start, end + 1)) as Record<string, unknown>;
}

// Lambda and the in-process local adapter receive no Host header of their own.
const socketAdapters = adapters.filter(
  (adapter) => !adapter.platform.includes('lambda') && adapter.platform !== 'local',
);

describe.each(socketAdapters)('Host and request target on $name', (adapter) => {
  let fn: RunningFunction;
  beforeAll(async () => {
    fn = await startWithMeshOptions(adapter, policyOptions);
    expect(fn.socket, `${adapter.name} must say where its socket is`).toBeDefined();
  }, 30_000);
  afterAll(async () => {
    await fn?.stop();
  });

  it('refuses a Host that would move the target into the query or the fragment', async () => {
    // `Host: localhost/echo?` once made `GET /admin` read as `/echo?/admin`, and the ALLOW
    // policy on `/echo` let it through.
    expect((await sendRaw(fn, '/admin', 'localhost/echo?')).status).toBe(400);
    expect((await sendRaw(fn, '/admin', 'localhost/public/x?')).status).toBe(400);
    expect((await sendRaw(fn, '/admin', 'evil#')).status).toBe(400);
    expect((await sendRaw(fn, '/admin', 'localhost')).status).toBe(403);
  });

  it('refuses an out-of-range port and credentials in Host with 400, before the handler', async () => {
    for (const host of ['localhost:99999', 'localhost:65536', 'u:p@h', 'h@evil', '[::1', '[zz::1]', 'a b']) {
      const answer = await sendRaw(fn, '/url', host);
      expect(answer.status, `Host: ${host}`).toBe(400);
      expect(answer.body, `Host: ${host}`).not.toContain('"url"');
    }
    for (const host of [
      'localhost:65535',
      'localhost:0',
      '[::1]:8080',
      '10.0.0.1',
      'orders.shop.svc.cluster.local',
    ]) {
      expect((await sendRaw(fn, '/url', host)).status, `Host: ${host}`).toBe(200);
    }
  });

  it('takes the scheme from the connection, never from an absolute-form target', async () => {
    if (fn.socket?.pathHeader) return; // the runtime routes only `/`: no absolute-form target reaches it
    const answer = await sendRaw(fn, 'https://contract.test/url?x=1', 'other.test');
    expect(answer.status).toBe(200);
    const { url } = jsonOf(answer.body) as { url: string };
    expect(url).toBe('http://contract.test/url?x=1');
  });

  it('gives policies and the handler the normalised path', async () => {
    for (const [target, status] of [
      ['/public/..%2Fadmin', 403],
      ['/public/..%5Cadmin', 403],
      ['/%61dmin', 403],
      ['/public/%2E%2E/admin', 403],
      ['/public/x/..//..//admin', 404], // dot segments first, then merged slashes: /public/admin
      ['/echo%00', 400],
      ['/x/..%2Fecho', 200],
      ['/%65cho', 200],
    ] as const) {
      expect((await sendRaw(fn, target, 'contract.test')).status, target).toBe(status);
    }
    const answer = await sendRaw(fn, '/x/..%2F%75rl', 'contract.test');
    expect(jsonOf(answer.body).url).toBe('http://contract.test/url');
  });

  it('decides on the target alone, whatever the Host (fuzz, fixed seed)', async () => {
    const { next, pick } = seeded(0x5eed_1234);
    const validHosts = ['contract.test', 'localhost:8080', '127.0.0.1', '[::1]:443', 'a-b.c_d~e', 'x:'];
    const invalidHosts = [
      'localhost/echo?',
      'localhost/public/x?',
      'evil#',
      'h?x',
      'u@h',
      'u:p@h',
      'h:99999',
      'h:1:2',
      'h\\x',
      'h%2F',
      '',
      '[::1',
    ];
    const firstSegments = ['echo', 'url', 'public', 'admin', '%61dmin', '%65cho', 'x', '..', '.'];
    const segments = [...firstSegments, '', '%2F', '%2f', '%5C', '%2e%2e', '%2E', 'admin', 'public', 'echo'];
    const queries = ['', '?a=1', '?/echo', '?x=/public/y'];

    const oracle = (target: string): number => {
      const path = target.split('?', 1)[0]!;
      const decoded = path.replace(/%([0-9A-Fa-f]{2})/g, (whole, hex: string) => {
        const char = String.fromCharCode(Number.parseInt(hex, 16));
        return /[A-Za-z0-9\-._~/\\]/.test(char) ? char : whole;
      });
      const normal = new URL(`http://oracle${decoded}`).pathname.replace(/\/{2,}/g, '/');
      if (normal === '/echo' || normal === '/url') return 200;
      if (normal.startsWith('/public/')) return 404;
      return 403;
    };

    const cases = 120;
    for (let i = 0; i < cases; i++) {
      let target = `/${pick(firstSegments)}`;
      for (let n = next(4); n > 0; n--) target += `/${pick(segments)}`;
      target += pick(queries);
      const invalid = next(3) === 0;
      const host = invalid ? pick(invalidHosts) : pick(validHosts);
      const answer = await sendRaw(fn, target, host);
      const context = `case ${i}: GET ${target} Host: ${JSON.stringify(host)}`;
      expect(answer.status, context).toBe(invalid ? 400 : oracle(target));
    }
  }, 60_000);
});
