/**
 * Kubeless shutdown in a real process: the runtime (here its stand-in, see the testing package)
 * owns the server and has no drain, so the adapter hooks SIGTERM itself. What must hold: every
 * finished invocation's span is exported, in-flight ones are answered, and those still running
 * when the grace period ends get a 503 whose span is exported too.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type OtlpReceiver, startOtlpReceiver } from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/drain-function.mjs', import.meta.url));
let receiver: OtlpReceiver;
const children: ChildProcess[] = [];
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
});

async function startFunction(grace: string) {
  const child = spawn(process.execPath, [fixture], {
    env: { ...process.env, TEST_OTLP_URL: receiver.url, TEST_GRACE: grace },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const waitFor = async (pattern: RegExp, count = 1) => {
    const global = new RegExp(pattern.source, 'gm');
    while ((out.match(global) ?? []).length < count) {
      if (child.exitCode !== null) throw new Error(`the function exited early:\n${out}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  await waitFor(/^listening /);
  const url = /^listening (\S+)$/m.exec(out)![1]!;
  return { child, url, exited, waitFor, stdout: () => out };
}

const call = (url: string, id: string, ms: number) =>
  fetch(`${url}/work?ms=${ms}`, { method: 'POST', headers: { 'event-id': id } }).then(
    async (response) => ({ status: response.status, body: await response.text() }),
    (error: Error) => ({ status: 0, body: error.message }),
  );

const exportedIds = (prefix: string) =>
  receiver.spans
    .map((span) => span.attributes['faas.invocation_id'] as string)
    .filter((id) => id.startsWith(prefix))
    .sort();

describe('kubeless drain on SIGTERM', () => {
  it('answers in-flight invocations and exports every finished span before exiting', async () => {
    const fn = await startFunction('10s');
    const finished = await Promise.all(Array.from({ length: 25 }, (_, i) => call(fn.url, `done-${i}`, 0)));
    expect(finished.map((answer) => answer.status)).toEqual(Array(25).fill(200));
    const inFlight = Array.from({ length: 5 }, (_, i) => call(fn.url, `busy-${i}`, 400));
    await fn.waitFor(/^started /, 5);
    fn.child.kill('SIGTERM');
    expect(await fn.exited).toBe(0);
    expect((await Promise.all(inFlight)).map((answer) => answer.status)).toEqual(Array(5).fill(200));
    expect(exportedIds('done-')).toHaveLength(25);
    expect(exportedIds('busy-')).toHaveLength(5);
  });

  it('answers invocations still running at the end of the grace period with a 503, and exports their spans', async () => {
    const fn = await startFunction('300ms');
    const running = Array.from({ length: 3 }, (_, i) => call(fn.url, `cut-${i}`, 20_000));
    await fn.waitFor(/^started /, 3);
    fn.child.kill('SIGTERM');
    expect(await fn.exited).toBe(0);
    for (const answer of await Promise.all(running)) {
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ code: 'SCL_ERR_SHUTTING_DOWN' });
    }
    expect(exportedIds('cut-')).toHaveLength(3);
    const statuses = receiver.spans
      .filter((span) => String(span.attributes['faas.invocation_id']).startsWith('cut-'))
      .map((span) => span.status.code);
    expect(statuses).toEqual([2, 2, 2]);
  });
});
