/**
 * `logging.logger`: the application's own pino (the real package). `ctx.log` and the mesh's own
 * lines become its children — the application's base fields, serializers and transports, the
 * mesh's bindings, the mesh's redaction first, the mesh's level when one is set. And the two
 * known differences of the built-in writer from pino, now matched: `isLevelEnabled('silent')`
 * and `child({ err })`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, createMesh, json } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import pino from 'pino';
import { describe, expect, it } from 'vitest';

function capturing(options: pino.LoggerOptions = {}) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(options, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

describe("the application's pino", () => {
  it('carries ctx.log: its own fields and format, the mesh bindings, and the mesh redaction', async () => {
    const { logger, lines } = capturing({ base: { app: 'shop' }, messageKey: 'message' });
    const mesh = createMesh({ service: 'orders', version: '1.4.0', logging: { logger } });
    const response = await invoke(
      mesh,
      async (_request, ctx) => {
        ctx.log.info(
          { headers: { authorization: 'Bearer secret-token-123', accept: 'json' } },
          'placing %s',
          'order-1',
        );
        ctx.log.child({ step: 'charge' }).warn(new Error('card declined'));
        return json({ ok: true });
      },
      'http://localhost/orders',
      { invocationId: 'inv-1' },
    );
    expect(response.status).toBe(200);
    const placing = lines.find((line) => line.message === 'placing order-1')!;
    // pino's own format (numeric level, the application's base, its messageKey)...
    expect(placing).toMatchObject({
      level: 30,
      app: 'shop',
      service: 'orders',
      version: '1.4.0',
      invocation_id: 'inv-1',
    });
    // ...with the mesh's redaction applied before pino saw the object.
    expect(JSON.stringify(placing)).not.toContain('secret-token-123');
    expect((placing.headers as Record<string, string>).accept).toBe('json');
    const declined = lines.find((line) => line.message === 'card declined')!;
    expect(declined).toMatchObject({ level: 40, step: 'charge', invocation_id: 'inv-1' });
    expect(declined.err).toMatchObject({ type: 'Error', message: 'card declined' });
    expect(String((declined.err as { stack: string }).stack)).toContain('card declined');
  });

  it("follows the mesh's level when one is set, and the logger's own otherwise", async () => {
    const quiet = capturing({ level: 'debug' });
    createMesh({ service: 'orders', logging: { logger: quiet.logger, level: 'warn' } }).log.info('dropped');
    expect(quiet.lines).toEqual([]);
    const chatty = capturing({ level: 'debug' });
    createMesh({ service: 'orders', logging: { logger: chatty.logger } }).log.debug('kept');
    expect(chatty.lines.map((line) => line.msg)).toEqual(['kept']);
    // The application's logger itself is left at its own level.
    expect(quiet.logger.level).toBe('debug');
  });

  it('writes through a pino transport (pino/file, in its worker thread)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'app-pino-'));
    const file = join(dir, 'app.log');
    try {
      const transport = pino.transport({ target: 'pino/file', options: { destination: file, mkdir: true } });
      const logger = pino({ base: { app: 'shop' } }, transport);
      const mesh = createMesh({ service: 'orders', logging: { logger } });
      await invoke(
        mesh,
        async (_request, ctx) => {
          ctx.log.info({ cookie: 'session=abc123' }, 'through the transport');
          return json({ ok: true });
        },
        'http://localhost/orders',
      );
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      await new Promise<void>((resolve) => {
        transport.once('close', resolve);
        transport.end();
      });
      const written = readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      const line = written.find((entry) => entry.msg === 'through the transport');
      expect(line).toMatchObject({ app: 'shop', service: 'orders', level: 30 });
      expect(JSON.stringify(line)).not.toContain('abc123');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what is not a pino logger, and a logger together with a destination', () => {
    expect(() => createMesh({ service: 'orders', logging: { logger: console as never } })).toThrow(
      /logging\.logger: expected a pino logger \(pino\(\) or a child of one\)/,
    );
    const { logger } = capturing();
    expect(() =>
      createMesh({ service: 'orders', logging: { logger, destination: { write: () => undefined } } }),
    ).toThrow(ConfigError);
  });
});

describe('the built-in writer matches pino where it did not', () => {
  it("isLevelEnabled('silent') is true at every level, as in pino", () => {
    for (const level of ['trace', 'info', 'error', 'silent'] as const) {
      const mesh = createMesh({
        service: 'orders',
        logging: { level, destination: { write: () => undefined } },
      });
      const reference = pino({ level }, { write: () => undefined });
      expect(mesh.log.isLevelEnabled('silent')).toBe(reference.isLevelEnabled('silent'));
      expect(mesh.log.isLevelEnabled('warn')).toBe(reference.isLevelEnabled('warn'));
    }
  });

  it('child({ err }) serialises the error as pino does', () => {
    const lines: Record<string, unknown>[] = [];
    const mesh = createMesh({
      service: 'orders',
      logging: { destination: { write: (line) => void lines.push(JSON.parse(line)) } },
    });
    const reference = capturing({ base: null });
    const cause = Object.assign(new Error('upstream down'), { code: 'ECONNREFUSED' });
    mesh.log.child({ err: cause }).warn('degraded');
    reference.logger.child({ err: cause }).warn('degraded');
    const ours = lines[0]!.err as Record<string, unknown>;
    const theirs = reference.lines[0]!.err as Record<string, unknown>;
    expect(ours).toEqual(theirs);
    expect(ours).toMatchObject({ type: 'Error', message: 'upstream down', code: 'ECONNREFUSED' });
  });
});
