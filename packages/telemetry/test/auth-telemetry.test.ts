/**
 * Auth and telemetry together: a refused request counts in serverless_auth_denied_total{reason}
 * and not in serverless_function_errors_total (a 4xx is the caller's mistake), read from the
 * mesh's real Prometheus port.
 */

import { auth } from '@sidecarless/auth';
import { createMesh, type Mesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { captureLogs, createSigningKey, freePort, nowSeconds } from '@sidecarless/testing';
import { afterEach, expect, it } from 'vitest';
import { telemetry } from '../src/index.ts';

let mesh: Mesh | undefined;
afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
});

it('counts refusals by reason, not as function errors', async () => {
  const key = createSigningKey('ES256');
  const port = await freePort();
  mesh = createMesh(
    {
      service: 'orders',
      logging: { destination: captureLogs().destination },
      telemetry: { metrics: { exporter: 'prometheus', port } },
      auth: {
        jwt: [
          { issuer: 'https://id.test', jwks: { keys: [key.jwk] }, audiences: ['orders'], required: true },
        ],
      },
    },
    [telemetry, auth],
  );
  const handler = () => new Response('ok');
  const now = nowSeconds();
  const good = await key.sign({
    iss: 'https://id.test',
    aud: 'orders',
    sub: 'alice',
    iat: now,
    exp: now + 60,
  });
  const statuses = [
    (await invoke(mesh, handler, 'http://localhost/orders')).status,
    (
      await invoke(
        mesh,
        handler,
        new Request('http://localhost/orders', { headers: { authorization: 'Bearer x.y.z' } }),
      )
    ).status,
    (
      await invoke(
        mesh,
        handler,
        new Request('http://localhost/orders', { headers: { authorization: `Bearer ${good}` } }),
      )
    ).status,
  ];
  expect(statuses).toEqual([401, 401, 200]);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const denied = [
    ...metrics.matchAll(/^serverless_auth_denied_total\{[^}]*reason="([^"]+)"[^}]*\} (\d+)$/gm),
  ];
  expect(denied.reduce((sum, match) => sum + Number(match[2]), 0)).toBe(2);
  expect(denied.map((match) => match[1])).toContain('token_missing');
  expect(metrics).toMatch(/^serverless_function_invocations_total\{[^}]*\} 3$/m);
  expect(metrics).toMatch(/^serverless_function_errors_total\{[^}]*\} 0$/m);
});
