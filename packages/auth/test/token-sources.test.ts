/** The JWT token sources are secret on every log line: the auth feature declares them to the logger. */
import { createMesh } from '@sidecarless/core';
import { captureLogs } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import { auth } from '../src/index.ts';

describe('token sources in logs', () => {
  it('censors the headers, parameters and cookies configured as JWT token sources', () => {
    const logs = captureLogs();
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        auth: {
          jwt: [
            {
              issuer: 'https://id.example.com',
              jwksUri: 'https://id.example.com/.well-known/jwks.json',
              fromHeaders: [{ name: 'X-Auth-Token' }],
              fromParams: ['sig'],
              fromCookies: ['sid'],
            },
          ],
        },
      },
      [auth],
    );
    mesh.log.info(
      {
        headers: { 'x-auth-token': 'hdr-token-1', 'x-trace': 'fine' },
        query: { sig: 'param-token-2' },
        rawQueryString: 'sig=param-token-3&page=1',
        cookies: { sid: 'cookie-token-4' },
      },
      'sources',
    );
    const raw = logs.raw.join('');
    for (const secret of ['hdr-token-1', 'param-token-2', 'param-token-3', 'cookie-token-4'])
      expect(raw).not.toContain(secret);
    expect(logs.withMessage('sources')[0]).toMatchObject({
      headers: { 'x-trace': 'fine' },
      rawQueryString: 'sig=[redacted]&page=1',
    });
  });
});
