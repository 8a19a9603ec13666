/**
 * The first request after a scale from zero. Node's Fetch implementation (~40 ms to load) is
 * loaded by reading the global Request/Response/Headers; on Node 22 a handler that reads a
 * header and answers with LazyResponse needs none of them (core's deferred-prototype.ts). On
 * Node 24 the server builds a real Request, which loads it. A fresh process: this one has it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/first-request.mjs', import.meta.url));
const lazyRequests = Number(process.versions.undici?.split('.')[0]) < 7;

describe('the first request to a knative server', () => {
  it(`is answered without loading Node's Fetch where requests can stay lazy (${lazyRequests ? 'here' : 'not here'})`, async () => {
    const { stdout } = await run(process.execPath, [fixture]);
    const { answer, loaded } = JSON.parse(stdout) as {
      answer: { status: number; body: string };
      loaded: boolean;
    };
    expect(answer).toEqual({ status: 200, body: 'hello first-test' });
    expect(loaded).toBe(!lazyRequests);
  });
});
