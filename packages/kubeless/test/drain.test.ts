/**
 * Kubeless shutdown in a real process: the runtime (here its stand-in, see the testing package)
 * owns the server and has no drain, so the adapter hooks SIGTERM itself. What must hold: every
 * finished invocation's span is exported, in-flight ones are answered, and those still running
 * when the grace period ends get a 503 whose span is exported too.
 */
import { fileURLToPath } from 'node:url';
import {
  killFunctionProcesses,
  type OtlpReceiver,
  startFunctionProcess,
  startOtlpReceiver,
} from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/drain-function.mjs', import.meta.url));
let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver?.close();
});
afterEach(killFunctionProcesses);

async function startFunction(grace: string) {
  const fn = startFunctionProcess(fixture, { TEST_OTLP_URL: receiver.url, TEST_GRACE: grace });
  await fn.waitFor(/^listening /);
  return { ...fn, url: /^listening (\S+)$/m.exec(fn.stdout())![1]! };
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
