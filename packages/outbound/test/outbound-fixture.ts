/**
 * Shared set-up of the outbound client's tests: meshes with upstreams and upstream servers that
 * are closed after each test, and a recorder for the client's diagnostics-channel events.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createMesh, type Mesh } from '@sidecarless/core';
import { createUpstreamServer, type UpstreamServer } from '@sidecarless/testing';
import { afterEach } from 'vitest';
import { http } from '../src/http.ts';
import { outbound } from '../src/index.ts';

const meshes: Mesh[] = [];
const servers: UpstreamServer[] = [];

afterEach(async () => {
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Starts an upstream server, closed after the test. */
export async function server(name?: string): Promise<UpstreamServer> {
  const started = await createUpstreamServer(name === undefined ? {} : { name });
  servers.push(started);
  return started;
}

/** A quiet mesh with these upstreams, closed after the test. */
export function mesh(upstreams: Record<string, unknown>): Mesh {
  const created = createMesh(
    {
      service: 'orders',
      upstreams: upstreams as never,
      logging: { level: 'silent' },
    },
    [outbound, http],
  );
  meshes.push(created);
  return created;
}

/** Records every message published on the channel `name` until `stop()`. */
export function listen<T>(name: string): { messages: T[]; stop(): void } {
  const messages: T[] = [];
  const listener = (message: unknown) => messages.push(message as T);
  subscribe(name, listener);
  return { messages, stop: () => unsubscribe(name, listener) };
}
