import { captureLogs } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import type { Feature, ReconfigureResult } from './features.js';
import { invoke, invokeEvent } from './local.js';
import { createMesh } from './mesh.js';
import { isPlainObject } from './options/schema.js';

/** What the features below did, in order. */
type Journal = string[];

/**
 * A reloadable feature: its `greeting` section becomes a response header; its start and close
 * are journaled; `init` is its init work (a promise the test controls).
 */
function greetingFeature(journal: Journal, init?: (text: string) => Promise<void>) {
  const feature: Feature<
    'greeting',
    { text: string; secretHeader?: string },
    { text: string; secretHeader?: string }
  > = {
    name: 'greeting',
    section: 'greeting',
    reloadable: true,
    check: (value, path, issues) => {
      if (value === undefined) return undefined;
      const text = isPlainObject(value) ? value.text : undefined;
      if (typeof text === 'string' && text !== '') return value as { text: string; secretHeader?: string };
      issues.add(`${path}.text`, 'expected a non-empty string, for example "hello"');
      return undefined;
    },
    secrets: (section) => ({ fields: section.secretHeader === undefined ? [] : [section.secretHeader] }),
    start: (host) => {
      const text = host.section?.text ?? 'none';
      journal.push(`start ${text}`);
      host.onClose(() => {
        journal.push(`close ${text}`);
      });
      if (init) host.whenReady(init(text));
      return {
        name: 'greeting',
        http: (next) => async (request, ctx) => {
          const response = await next(request, ctx);
          response.headers.set('x-greeting', text);
          return response;
        },
        event: (next) => async (event, ctx) => ({ greeting: text, result: await next(event, ctx) }),
      };
    },
  };
  return feature;
}

/** A feature that is not reloadable, standing for telemetry: it must never restart. */
function stickyFeature(journal: Journal) {
  const feature: Feature<'sticky', { port: number }, { port: number }> = {
    name: 'sticky',
    section: 'sticky',
    check: (value) => value as { port: number } | undefined,
    start: (host) => {
      journal.push('start sticky');
      host.onClose(() => {
        journal.push('close sticky');
      });
      host.onReconfigure((result) => journal.push(`told ${result.outcome}`));
      return undefined;
    },
  };
  return feature;
}

const ok = () => new Response('ok');

describe('mesh.reconfigure', () => {
  it('starts only the features whose sections changed, and closes the old ones', async () => {
    const journal: Journal = [];
    const logs = captureLogs();
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        greeting: { text: 'one' },
        sticky: { port: 1 },
      },
      [greetingFeature(journal), stickyFeature(journal)],
    );
    await mesh.ready();
    expect((await invoke(mesh, ok, 'http://localhost/')).headers.get('x-greeting')).toBe('one');

    const result = await mesh.reconfigure({ greeting: { text: 'two' } });
    expect(result).toEqual({ outcome: 'applied', generation: 1, restarted: ['greeting'] });
    expect((await invoke(mesh, ok, 'http://localhost/')).headers.get('x-greeting')).toBe('two');
    expect(mesh.options.section(greetingFeature([]))).toEqual({ text: 'two' });
    // The sticky feature started once; the first greeting was closed; the sticky one was told.
    expect(journal).toEqual(['start one', 'start sticky', 'start two', 'close one', 'told applied']);

    expect(await mesh.reconfigure({ greeting: { text: 'two' } })).toEqual({
      outcome: 'unchanged',
      generation: 1,
    });
    await mesh.close();
    expect(journal.slice(-2)).toEqual(['close two', 'close sticky']);
  });

  it('leaves everything as it was when the new sections fail their checks', async () => {
    const journal: Journal = [];
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' }, greeting: { text: 'one' } }, [
      greetingFeature(journal),
    ]);
    const before = mesh.options;
    const result = await mesh.reconfigure({ greeting: { text: '' } });
    expect(result.outcome).toBe('rejected');
    const error = (result as Extract<ReconfigureResult, { outcome: 'rejected' }>).error;
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      { path: 'greeting.text', message: 'expected a non-empty string, for example "hello"' },
    ]);
    expect(mesh.options).toBe(before);
    expect(journal).toEqual(['start one']);
    expect((await invoke(mesh, ok, 'http://localhost/')).headers.get('x-greeting')).toBe('one');
    // A later, valid change still applies: the refused one left nothing half-done.
    expect((await mesh.reconfigure({ greeting: { text: 'three' } })).outcome).toBe('applied');
    expect((await invoke(mesh, ok, 'http://localhost/')).headers.get('x-greeting')).toBe('three');
    await mesh.close();
  });

  it('keeps the running generation when the new one fails its init work, and closes what it started', async () => {
    const journal: Journal = [];
    const feature = greetingFeature(journal, async (text) => {
      if (text === 'unreachable') throw new Error('keys could not be fetched');
    });
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' }, greeting: { text: 'one' } }, [
      feature,
    ]);
    const result = await mesh.reconfigure({ greeting: { text: 'unreachable' } });
    expect(result).toMatchObject({
      outcome: 'rejected',
      generation: 0,
      error: { message: 'keys could not be fetched' },
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(journal).toEqual(['start one', 'start unreachable', 'close unreachable']);
    expect((await invoke(mesh, ok, 'http://localhost/')).headers.get('x-greeting')).toBe('one');
    await mesh.close();
  });

  it('waits for the new init work before the next invocation sees it', async () => {
    const journal: Journal = [];
    let release!: () => void;
    const feature = greetingFeature(journal, (text) =>
      text === 'slow' ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve(),
    );
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' }, greeting: { text: 'one' } }, [
      feature,
    ]);
    await mesh.ready();
    const applying = mesh.reconfigure({ greeting: { text: 'slow' } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await invoke(mesh, ok, 'http://localhost/')).headers.get('x-greeting')).toBe('one');
    release();
    expect((await applying).outcome).toBe('applied');
    expect((await invoke(mesh, ok, 'http://localhost/')).headers.get('x-greeting')).toBe('slow');
    await mesh.close();
  });

  it('lets an invocation in flight finish on its generation, and closes that one after it', async () => {
    const journal: Journal = [];
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' }, greeting: { text: 'one' } }, [
      greetingFeature(journal),
    ]);
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const inFlight = invoke(
      mesh,
      async () => {
        await gate;
        return new Response('slow');
      },
      'http://localhost/slow',
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await mesh.reconfigure({ greeting: { text: 'two' } })).outcome).toBe('applied');
    expect((await invoke(mesh, ok, 'http://localhost/')).headers.get('x-greeting')).toBe('two');
    expect(journal).toEqual(['start one', 'start two']); // one is still serving
    finish();
    expect((await inFlight).headers.get('x-greeting')).toBe('one');
    expect(journal).toEqual(['start one', 'start two', 'close one']);
    await mesh.close();
  });

  it('lets an event invocation in flight finish on its generation too', async () => {
    const journal: Journal = [];
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' }, greeting: { text: 'one' } }, [
      greetingFeature(journal),
    ]);
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const handler = async (event: { wait: boolean }) => {
      if (event.wait) await gate;
      return 'done';
    };
    const inFlight = invokeEvent(mesh, handler, { wait: true });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect((await mesh.reconfigure({ greeting: { text: 'two' } })).outcome).toBe('applied');
    expect(await invokeEvent(mesh, handler, { wait: false })).toEqual({ greeting: 'two', result: 'done' });
    expect(journal).not.toContain('close one');
    finish();
    expect(await inFlight).toEqual({ greeting: 'one', result: 'done' });
    expect(journal).toContain('close one');
    await mesh.close();
  });

  it('refuses the kernel options, sections of features that cannot restart, and unknown sections', async () => {
    const journal: Journal = [];
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' }, sticky: { port: 1 } }, [
      greetingFeature(journal),
      stickyFeature(journal),
    ]);
    const issues = async (sections: Record<string, unknown>) => {
      const result = await mesh.reconfigure(sections);
      expect(result.outcome).toBe('rejected');
      return ((result as { error: ConfigError }).error as ConfigError).issues.map((issue) => issue.path);
    };
    expect(await issues({ logging: { level: 'debug' } })).toEqual(['logging']);
    expect(await issues({ sticky: { port: 2 } })).toEqual(['sticky']);
    expect(await issues({ upstreams: {} })).toEqual(['upstreams']);
    // Nothing started; the listener heard each refusal.
    expect(journal).toEqual([
      'start none',
      'start sticky',
      'told rejected',
      'told rejected',
      'told rejected',
    ]);
    await mesh.close();
  });

  it('runs a function that produces the sections in turn, and rejects what it throws', async () => {
    const journal: Journal = [];
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' } }, [greetingFeature(journal)]);
    const results = await Promise.all([
      mesh.reconfigure(async () => ({ greeting: { text: 'first' } })),
      mesh.reconfigure(async () => {
        throw new Error('invalid YAML');
      }),
      mesh.reconfigure(async () => ({ greeting: { text: 'second' } })),
    ]);
    expect(results.map((result) => [result.outcome, result.generation])).toEqual([
      ['applied', 1],
      ['rejected', 1],
      ['applied', 2],
    ]);
    expect((await invoke(mesh, ok, 'http://localhost/')).headers.get('x-greeting')).toBe('second');
    await mesh.close();
  });

  it('censors the secrets the new sections name from the next log line on', async () => {
    const logs = captureLogs();
    const mesh = createMesh({ service: 'orders', logging: { destination: logs.destination } }, [
      greetingFeature([]),
    ]);
    await mesh.reconfigure({ greeting: { text: 'hi', secretHeader: 'x-partner-token' } });
    mesh.log.info({ headers: { 'x-partner-token': 'tok-123' } }, 'call');
    expect(logs.raw.join('')).not.toContain('tok-123');
    await mesh.close();
  });

  it('never swaps in a generation the mesh was closed under while it was being built', async () => {
    const journal: Journal = [];
    let release!: () => void;
    const feature = greetingFeature(journal, (text) =>
      text === 'late' ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve(),
    );
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' }, greeting: { text: 'one' } }, [
      feature,
    ]);
    await mesh.ready();
    const applying = mesh.reconfigure({ greeting: { text: 'late' } });
    await new Promise((resolve) => setTimeout(resolve, 10));
    await mesh.close();
    release();
    expect(await applying).toMatchObject({ outcome: 'rejected', generation: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(journal).toEqual(['start one', 'start late', 'close one', 'close late']);
  });

  it('refuses to reconfigure a closed mesh', async () => {
    const mesh = createMesh({ service: 'orders', logging: { level: 'silent' } }, [greetingFeature([])]);
    await mesh.close();
    expect(await mesh.reconfigure({ greeting: { text: 'late' } })).toMatchObject({ outcome: 'rejected' });
  });
});
