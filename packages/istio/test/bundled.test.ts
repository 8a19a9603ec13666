/**
 * The istio feature bundled the way SAM's esbuild builder bundles a function — one minified
 * CommonJS file, run where there is no node_modules, with require(esm) off as on nodejs22.x —
 * loads the schemas it validates against from the bundle itself.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = mkdtempSync(join(tmpdir(), 'scl-istio-bundle-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const policy = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: only-get, namespace: shop }
spec:
  selector: { matchLabels: { app: orders } }
  action: ALLOW
  rules:
  - to: [{ operation: { methods: [GET] } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments, namespace: shop }
spec:
  hosts: [payments]
  http:
  - timeout: 2s
    route: [{ destination: { host: payments } }]
`;

const entry = `
const { auth } = require('@sidecarless/auth');
const { createMesh } = require('@sidecarless/core');
const { invoke } = require('@sidecarless/core/local');
const { istio } = require('@sidecarless/istio');
const { outbound } = require('@sidecarless/outbound');
const { http } = require('@sidecarless/outbound/http');
const { traffic } = require('@sidecarless/outbound/traffic');
const mesh = createMesh(
  { service: 'orders', logging: { level: 'silent' }, istio: { files: [process.env.POLICY], namespace: 'shop', watch: false } },
  [auth, outbound, http, traffic, istio],
);
(async () => {
  await mesh.ready();
  const status = async (method) => (await invoke(mesh, async () => new Response('ok'), new Request('http://orders.test/', { method }))).status;
  console.log(JSON.stringify({ get: await status('GET'), post: await status('POST'), upstreams: [...mesh.options.section(outbound).keys()] }));
  await mesh.close();
})().catch((error) => { console.log(JSON.stringify({ error: String(error) })); process.exitCode = 1; });
`;

describe('bundled as SAM bundles a function', () => {
  it('validates against the bundled schemas and applies the policy, with no node_modules beside it', async () => {
    const outfile = join(outDir, 'function.js');
    await build({
      stdin: { contents: entry, resolveDir: packageDir, loader: 'js' },
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      outfile,
      logLevel: 'silent',
    });
    const file = join(outDir, 'policy.yaml');
    writeFileSync(file, policy);
    const output = execFileSync(process.execPath, ['--no-experimental-require-module', outfile], {
      cwd: outDir,
      env: { PATH: process.env.PATH, POLICY: file },
      encoding: 'utf8',
    });
    expect(JSON.parse(output)).toEqual({ get: 200, post: 403, upstreams: ['payments'] });
    // The loader, yaml and the schemas of every kind it reads: the price of YAML in the bundle.
    expect(statSync(outfile).size).toBeLessThan(4_000_000);
  });
});
