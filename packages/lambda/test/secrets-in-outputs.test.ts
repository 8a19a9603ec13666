/**
 * Secrets in every output: one API Gateway HTTP API invocation carrying a bearer token, a session
 * cookie, an API key, a configured token header and an `access_token` query parameter, whose
 * handler logs the raw event and the request's header pairs and then throws an HTTP client's
 * error (axios-shaped: config headers, a response's set-cookie). Every byte the mesh writes —
 * log lines (its own, the handler's, `handler threw`, the access line), EMF metrics, the span
 * exported to a real OTLP receiver, and the response — is searched for each secret.
 */

import { createMesh } from '@sidecarless/core';
import { telemetry } from '@sidecarless/telemetry';
import { captureLogs, lambdaContext, lambdaEvent, startOtlpReceiver } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import { lambda } from '../src/index.js';

const secrets = {
  bearer: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl',
  cookie: 'sess-7f3a9c',
  apiKey: 'ak-live-51d2',
  tokenHeader: 'xat-93b1e0',
  queryToken: 'qt-4c2e88',
  upstreamKey: 'up-key-0a9f',
  upstreamCookie: 'up-cookie-77e1',
};

describe('secrets in every output of a Lambda invocation', () => {
  it('writes none of them to logs, metrics, spans or the response', async () => {
    const receiver = await startOtlpReceiver();
    const logs = captureLogs();
    try {
      const mesh = createMesh(
        {
          service: 'secrets',
          logging: { destination: logs.destination },
          telemetry: {
            tracing: { exporter: 'otlp', endpoint: receiver.url },
            metrics: { exporter: 'emf' },
          },
        },
        [telemetry],
      );
      const handler = lambda(mesh, async (request, ctx) => {
        ctx.log.info({ event: ctx.raw.event }, 'event received');
        ctx.log.info({ headers: [...request.headers], url: request.url }, 'request');
        const error = Object.assign(new Error('Request failed with status code 401'), {
          config: {
            headers: { Authorization: `Bearer ${secrets.bearer}`, 'X-Api-Key': secrets.upstreamKey },
          },
          response: { status: 401, headers: { 'set-cookie': `sid=${secrets.upstreamCookie}` } },
        });
        throw error;
      });
      const event = lambdaEvent<Record<string, unknown>>('apigw-http-v2.json');
      const headers = event.headers as Record<string, string>;
      Object.assign(headers, {
        authorization: `Bearer ${secrets.bearer}`,
        cookie: `session=${secrets.cookie}`,
        'x-api-key': secrets.apiKey,
        'x-amz-security-token': secrets.tokenHeader,
      });
      event.cookies = [`session=${secrets.cookie}`];
      event.rawQueryString = `page=1&access_token=${secrets.queryToken}`;
      event.queryStringParameters = { page: '1', access_token: secrets.queryToken };
      const written: string[] = [];
      const stdoutWrite = process.stdout.write.bind(process.stdout);
      // EMF lines go to standard output: capture them for this invocation.
      process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
        written.push(String(chunk));
        return stdoutWrite(chunk, ...rest);
      }) as typeof process.stdout.write;
      let result: { statusCode: number; body: string };
      try {
        result = (await handler(event, lambdaContext())) as { statusCode: number; body: string };
      } finally {
        process.stdout.write = stdoutWrite;
      }
      expect(result.statusCode).toBe(500);
      await mesh.close(1_000);
      expect(receiver.spans.length).toBeGreaterThanOrEqual(1);
      expect(logs.withMessage('event received')).toHaveLength(1);
      expect(logs.withMessage('handler threw')).toHaveLength(1);
      expect(logs.withMessage('access')).toHaveLength(1);
      const outputs = {
        logs: logs.raw.join(''),
        stdout: written.join(''),
        spans: JSON.stringify(receiver.spans),
        response: JSON.stringify(result),
      };
      for (const [output, text] of Object.entries(outputs))
        for (const [name, secret] of Object.entries(secrets))
          expect(text.includes(secret), `${name} in ${output}`).toBe(false);
    } finally {
      await receiver.close();
    }
  });
});
