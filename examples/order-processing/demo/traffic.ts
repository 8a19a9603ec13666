/**
 * The demo's traffic scenarios: a payments canary, a mirror of inventory traffic to a new
 * version, and a fault drill — the calls an orders function makes, routed in-process by
 * `@sidecarless/outbound/traffic`. The "versions" are small HTTP servers on 127.0.0.1 that answer
 * with their name (v2 of inventory fails every request, to show its errors never surface).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMesh } from '@sidecarless/core';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';

interface Version {
  readonly url: string;
  readonly server: Server;
  served: number;
}

async function version(name: string, status = 200): Promise<Version> {
  const entry = { served: 0 } as { served: number; url: string; server: Server };
  entry.server = createServer((request, response) => {
    request.resume();
    entry.served++;
    response.writeHead(status, { 'content-type': 'text/plain' });
    response.end(name);
  });
  await new Promise<void>((resolve) => entry.server.listen(0, '127.0.0.1', resolve));
  entry.url = `http://127.0.0.1:${(entry.server.address() as AddressInfo).port}`;
  return entry;
}

type Scenario = (
  title: string,
  run: () => Promise<undefined>,
  check: () => string | undefined,
) => Promise<unknown>;

/** Runs the three traffic scenarios through `scenario` (the demo's runner). */
export async function trafficScenarios(scenario: Scenario, first: number): Promise<void> {
  const payments = { v1: await version('v1'), v2: await version('v2') };
  const inventory = { v1: await version('v1'), v2: await version('v2-failing', 500) };
  const mesh = createMesh(
    {
      service: 'orders',
      logging: { level: 'silent' },
      upstreams: {
        payments: {
          url: payments.v1.url,
          retries: { attempts: 3, retryOn: '5xx', backoff: { baseInterval: '1ms', maxInterval: '5ms' } },
          retryBudget: { percent: 100 },
          circuitBreaker: { consecutiveFailures: 50, halfOpenAfter: '10s' },
          subsets: [
            { name: 'v1', url: payments.v1.url },
            { name: 'v2', url: payments.v2.url },
          ],
          http: [
            {
              name: 'always-canary',
              match: [{ headers: { 'x-canary': { exact: 'always' } } }],
              route: [{ destination: { subset: 'v2' } }],
            },
            {
              name: 'fault-drill',
              match: [{ uri: { prefix: '/drill/' } }],
              fault: { abort: { httpStatus: 503, percentage: { value: 50 } } },
              route: [{ destination: { subset: 'v1' } }],
            },
            {
              name: 'canary',
              route: [
                { destination: { subset: 'v1' }, weight: 90 },
                { destination: { subset: 'v2' }, weight: 10 },
              ],
            },
          ],
        },
        inventory: {
          url: inventory.v1.url,
          subsets: [{ name: 'next', url: inventory.v2.url }],
          http: [{ name: 'shadow-next', route: [{ destination: {} }], mirror: { subset: 'next' } }],
        },
      },
    },
    [outbound, http, traffic],
  );
  await mesh.ready();
  // Counts by answer, keys in a fixed order (the order answers arrived in would vary by run).
  const counts = (answers: string[]) => {
    const all: Record<string, number> = {};
    for (const answer of [...answers].sort()) all[answer] = (all[answer] ?? 0) + 1;
    return all;
  };
  const fetchAll = async (
    upstream: string,
    path: string,
    calls: number,
    headers: Record<string, string> = {},
  ) => {
    const answers: string[] = [];
    for (let i = 0; i < calls; i++) {
      const response = await mesh.upstream(upstream).fetch(path, { headers });
      answers.push(response.status === 200 ? await response.text() : String(response.status));
    }
    return answers;
  };

  try {
    let canary: Record<string, number> = {};
    let always: Record<string, number> = {};
    await scenario(
      `${first}. Payments canary: 10% to v2, and every x-canary: always caller on v2`,
      async () => {
        canary = counts(await fetchAll('payments', '/charges', 1_000));
        always = counts(await fetchAll('payments', '/charges', 200, { 'x-canary': 'always' }));
        console.log(
          `   ← 1,000 calls: ${JSON.stringify(canary)}; 200 with x-canary: always: ${JSON.stringify(always)}`,
        );
        return undefined;
      },
      () => {
        const share = (canary.v2 ?? 0) / 10;
        if ((canary.v1 ?? 0) + (canary.v2 ?? 0) !== 1_000) return 'some canary calls failed';
        if (share < 6 || share > 14) return `expected about 10% on v2, got ${share}%`;
        if (always.v2 !== 200) return 'x-canary: always did not always reach v2';
        return undefined;
      },
    );

    let mirrored: Record<string, number> = {};
    await scenario(
      `${first + 1}. Mirror inventory traffic to a new version whose every answer is a 500`,
      async () => {
        mirrored = counts(await fetchAll('inventory', '/stock/book-42', 100));
        await mesh.flush();
        console.log(
          `   ← callers got ${JSON.stringify(mirrored)}; the new version received ${inventory.v2.served} copies (all answered 500)`,
        );
        return undefined;
      },
      () => {
        if (mirrored.v1 !== 100) return `a mirror's failure reached a caller: ${JSON.stringify(mirrored)}`;
        if (inventory.v2.served !== 100) return `expected 100 mirrored copies, got ${inventory.v2.served}`;
        return undefined;
      },
    );

    let drill: Record<string, number> = {};
    let reached = 0;
    await scenario(
      `${first + 2}. Fault drill: abort 50% of payments' /drill calls; the retries absorb it`,
      async () => {
        const before = payments.v1.served;
        drill = counts(await fetchAll('payments', '/drill/charge', 200));
        reached = payments.v1.served - before;
        console.log(
          `   ← 200 calls: ${JSON.stringify(drill)}; injected aborts retried, v1 served ${reached}`,
        );
        return undefined;
      },
      () => {
        const failed = 200 - (drill.v1 ?? 0);
        // Four attempts at 50%: about 1 call in 16 still fails.
        if (failed > 30) return `the retries absorbed too little: ${failed} of 200 failed`;
        if (reached !== drill.v1) return 'an aborted attempt reached the upstream';
        return undefined;
      },
    );
  } finally {
    await mesh.close();
    for (const entry of [payments.v1, payments.v2, inventory.v1, inventory.v2]) {
      entry.server.closeAllConnections();
      await new Promise((resolve) => entry.server.close(resolve));
    }
  }
}
