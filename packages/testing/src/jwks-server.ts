/**
 * A real JWKS endpoint on 127.0.0.1 for auth tests: serves whatever keys the test sets, counts
 * requests, and can be made slow or dead to prove timeouts, cooldowns and stale-if-down.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';

/** A running JWKS server. */
export interface JwksServer {
  /** `http://127.0.0.1:<port>/jwks`. */
  readonly url: string;
  /** How many times the key set was fetched. */
  readonly fetches: number;
  /** Replaces the served keys (rotation). */
  setKeys(keys: readonly JWK[]): void;
  /** Delays every answer by `ms` (a slow issuer). */
  setDelay(ms: number): void;
  /** Answers 503 while true (a dead issuer). */
  setDown(down: boolean): void;
  close(): Promise<void>;
}

/**
 * Starts a JWKS server.
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { auth } from '@sidecarless/auth';
 * import { createSigningKey, startJwksServer } from '@sidecarless/testing';
 *
 * const key = createSigningKey('RS256');
 * const jwks = await startJwksServer([key.jwk]);
 * createMesh({ service: 's', auth: { jwt: [{ issuer: 'https://id.test', jwksUri: jwks.url }] } }, [auth]);
 * ```
 */
export async function startJwksServer(initial: readonly JWK[] = []): Promise<JwksServer> {
  let keys = initial;
  let delay = 0;
  let down = false;
  let fetches = 0;
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((request, response) => {
    fetches++;
    const answer = () => {
      if (down) {
        response.writeHead(503).end('down');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    };
    if (delay === 0) answer();
    else {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, delay);
      timers.add(timer);
    }
    request.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks`,
    get fetches() {
      return fetches;
    },
    setKeys: (next) => {
      keys = next;
    },
    setDelay: (ms) => {
      delay = ms;
    },
    setDown: (value) => {
      down = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
