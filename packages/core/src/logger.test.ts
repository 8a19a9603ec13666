import { captureLogs } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import { invoke } from './local.js';
import { createMesh } from './mesh.js';

describe('logging', () => {
  it('writes JSON lines with an ISO-8601 UTC time, a level name and the invocation facts', async () => {
    const logs = captureLogs();
    const mesh = createMesh({
      service: 'orders',
      version: '1.2.0',
      logging: { destination: logs.destination },
    });
    await invoke(
      mesh,
      (_request, ctx) => {
        ctx.log.info({ items: 3 }, 'order placed');
        return new Response('ok');
      },
      'http://localhost/',
      { invocationId: 'abc-123' },
    );
    const [line] = logs.withMessage('order placed');
    expect(line).toMatchObject({
      level: 'info',
      service: 'orders',
      version: '1.2.0',
      invocation_id: 'abc-123',
      platform: 'local',
      cold_start: expect.any(Boolean),
      items: 3,
    });
    // Fluentd's `time_format %Y-%m-%dT%H:%M:%S.%NZ`.
    expect(line!.time).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('redacts credentials wherever they appear, and any configured path', async () => {
    const logs = captureLogs();
    const mesh = createMesh({
      service: 'orders',
      logging: { destination: logs.destination, redact: ['card.number'] },
    });
    const secrets = [
      'Bearer eyJhbGciOi.secret.sig',
      'session=s3cr3t',
      'k-123456',
      'tok-abc',
      'hunter2',
      '4111111111111111',
    ];
    mesh.log.info(
      {
        authorization: secrets[0],
        headers: { cookie: secrets[1], 'x-api-key': secrets[2], 'set-cookie': 'id=1' },
        req: { headers: { authorization: secrets[0] }, body: { password: secrets[4] } },
        token: secrets[3],
        card: { number: secrets[5], brand: 'visa' },
      },
      'request',
    );
    const raw = logs.raw.join('');
    for (const secret of secrets) expect(raw).not.toContain(secret);
    expect(raw).not.toContain('id=1');
    const [line] = logs.withMessage('request');
    expect(line).toMatchObject({
      authorization: '[redacted]',
      headers: { cookie: '[redacted]', 'x-api-key': '[redacted]' },
      card: { number: '[redacted]', brand: 'visa' },
    });
  });

  it('honours the level from the options', () => {
    const logs = captureLogs();
    const mesh = createMesh({ service: 's', logging: { level: 'warn', destination: logs.destination } });
    mesh.log.info('quiet');
    mesh.log.warn('loud');
    expect(logs.lines().map((line) => line.msg)).toEqual(['loud']);
  });

  it('builds no child logger for an invocation that never logs', async () => {
    const logs = captureLogs();
    const mesh = createMesh({ service: 's', logging: { destination: logs.destination } });
    let childCalls = 0;
    const originalChild = mesh.log.child.bind(mesh.log);
    mesh.log.child = ((...args: Parameters<typeof originalChild>) => {
      childCalls++;
      return originalChild(...args);
    }) as typeof mesh.log.child;
    await invoke(mesh, () => new Response('quiet'), 'http://localhost/');
    expect(childCalls).toBe(0);
    await invoke(
      mesh,
      (_r, ctx) => {
        ctx.log.debug('x');
        ctx.log.debug('y');
        return new Response('chatty');
      },
      'http://localhost/',
    );
    expect(childCalls).toBe(1);
  });
});

describe('secret scrubbing', () => {
  it('censors secret fields in any letter case, inside arrays, without touching the caller’s object', () => {
    const logs = captureLogs();
    const mesh = createMesh({ service: 's', logging: { destination: logs.destination } });
    const event = {
      headers: { Authorization: 'Bearer abc.def.ghi', Accept: 'json' },
      records: [{ messageAttributes: { API_KEY: 'k-999' } }, { body: 'fine' }],
    };
    mesh.log.info({ event }, 'received');
    const raw = logs.raw.join('');
    expect(raw).not.toContain('abc.def.ghi');
    expect(raw).not.toContain('k-999');
    expect(logs.withMessage('received')[0]).toMatchObject({
      event: {
        headers: { Authorization: '[redacted]', Accept: 'json' },
        records: [{ messageAttributes: { API_KEY: '[redacted]' } }, { body: 'fine' }],
      },
    });
    expect(event.headers.Authorization).toBe('Bearer abc.def.ghi');
  });
});
