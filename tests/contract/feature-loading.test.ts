/**
 * A function bundles and loads only the features it registers: proven in fresh CommonJS
 * processes on the built packages (require(esm) off, as on Lambda's nodejs22.x), by what
 * `require` loaded.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));

function run(body: string): { loaded: string[]; result: unknown } {
  const script = `
    const { createMesh } = require('@sidecarless/core');
    const report = (result) => {
      const loaded = Object.keys(require.cache).filter((file) => /[\\\\/](auth|telemetry|outbound|undici)[\\\\/]/.test(file));
      process.stdout.write(JSON.stringify({ loaded, result }));
    };
    ${body}
  `;
  const child = spawnSync(process.execPath, ['--no-experimental-require-module', '-e', script], {
    cwd: here,
    encoding: 'utf8',
  });
  expect(child.stderr).toBe('');
  return JSON.parse(child.stdout) as { loaded: string[]; result: unknown };
}

describe('feature packages', () => {
  it('a kernel-only mesh loads no feature package and no undici', () => {
    const { loaded } = run(`createMesh({ service: 'k' }).ready().then(() => report(null));`);
    expect(loaded).toEqual([]);
  });

  it('an upstream used through call() alone needs no endpoints and loads no undici', () => {
    const { loaded, result } = run(`
      const { outbound } = require('@sidecarless/outbound');
      const mesh = createMesh({ service: 'k', upstreams: { stock: { retries: { attempts: 2, retryOn: 'reset' } } } }, [outbound]);
      let calls = 0;
      mesh.upstream('stock').call(async () => {
        if (++calls === 1) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
        return 'ok';
      }).then((value) => report({ value, calls }));
    `);
    expect(result).toEqual({ value: 'ok', calls: 2 });
    expect(loaded.some((file) => /[\\/]outbound[\\/]/.test(file))).toBe(true);
    expect(loaded.filter((file) => /[\\/]undici[\\/]/.test(file))).toEqual([]);
  });

  it('a section whose feature is not registered names the package and the line to add', () => {
    const { result } = run(`
      try { createMesh({ service: 'k', auth: { jwt: [] }, telemetry: {} }); } catch (error) { report(error.issues); }
    `);
    expect(result).toEqual([
      {
        path: 'auth',
        message:
          "needs the auth feature, which is not registered; add import { auth } from '@sidecarless/auth' and pass it to createMesh: createMesh(options, [auth])",
      },
      {
        path: 'telemetry',
        message:
          "needs the telemetry feature, which is not registered; add import { telemetry } from '@sidecarless/telemetry' and pass it to createMesh: createMesh(options, [telemetry])",
      },
    ]);
  });

  it('an upstream with a url needs the HTTP transport registered, and says so', () => {
    const { result } = run(`
      const { outbound } = require('@sidecarless/outbound');
      try { createMesh({ service: 'k', upstreams: { stock: { url: 'http://127.0.0.1:9' } } }, [outbound]); } catch (error) { report(error.issues.map((issue) => issue.path + ': ' + issue.message)); }
    `);
    expect(result).toEqual([
      "upstreams.stock.url: an HTTP upstream needs the HTTP transport, which is not registered; add import { http } from '@sidecarless/outbound/http' and pass it to createMesh: createMesh(options, [outbound, http])",
    ]);
  });

  // On Node 22 the Lambda adapter hands the handler a lazy Request (Node 24 builds a real one).
  it.runIf(process.versions.node.startsWith('22.'))(
    "an authenticated request, its token stripped by the auth stage, does not load Node's Fetch",
    () => {
      const { result } = run(`
        const { createHmac } = require('node:crypto');
        const { json } = require('@sidecarless/core');
        const { auth } = require('@sidecarless/auth');
        const { lambda } = require('@sidecarless/lambda');
        const secret = 'a-shared-secret-of-at-least-32-bytes!';
        const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
        const unsigned = encode({ alg: 'HS256', typ: 'JWT' }) + '.' + encode({ iss: 'https://id.test', sub: 'u', exp: Math.floor(Date.now() / 1000) + 60 });
        const token = unsigned + '.' + createHmac('sha256', secret).update(unsigned).digest('base64url');
        const mesh = createMesh(
          { service: 'k', logging: { level: 'silent' }, auth: { jwt: [{ issuer: 'https://id.test', sharedSecret: secret, algorithms: ['HS256'], required: true }] } },
          [auth],
        );
        const handler = lambda(mesh, async (request, ctx) => json({ sub: ctx.auth.subject, token: request.headers.get('authorization') }));
        const event = {
          version: '2.0', routeKey: '$default', rawPath: '/', rawQueryString: '',
          headers: { host: 'api.test', authorization: 'Bearer ' + token },
          requestContext: { domainName: 'api.test', http: { method: 'GET', path: '/', sourceIp: '203.0.113.7' }, requestId: 'r', stage: '$default' },
          isBase64Encoded: false,
        };
        handler(event, { awsRequestId: 'r', getRemainingTimeInMillis: () => 3000 }).then((answer) => report({
          status: answer.statusCode,
          body: JSON.parse(answer.body),
          fetchLoaded: process.moduleLoadList.some((entry) => entry.includes('undici')),
        }));
      `);
      expect(result).toEqual({ status: 200, body: { sub: 'u', token: null }, fetchLoaded: false });
    },
  );

  it('fetch on a call()-only upstream fails with a clear error', () => {
    const { result } = run(`
      const { outbound } = require('@sidecarless/outbound');
      const mesh = createMesh({ service: 'k', upstreams: { sdk: {} } }, [outbound]);
      mesh.upstream('sdk').fetch('/x').catch((error) => report(error.code));
    `);
    expect(result).toBe('SCL_ERR_UPSTREAM_NO_TRANSPORT');
  });
});
