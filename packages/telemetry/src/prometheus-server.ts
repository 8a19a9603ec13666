/**
 * The Prometheus endpoint: a tiny `node:http` server on its own port (default 9464, because
 * of-watchdog owns 8081 in the same container), started only when `metrics.exporter` is
 * `"prometheus"`. It answers `GET /metrics` and nothing else.
 */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { nodeBuiltin } from '@sidecarless/core/feature';
import { type MetricsRegistry, renderPrometheus } from './metrics.js';

export interface MetricsServer {
  /** The bound port (useful when configured as 0). */
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the endpoint; rejects when the port cannot be bound (the error names host and port). */
export function startMetricsServer(
  registry: MetricsRegistry,
  host: string,
  port: number,
): Promise<MetricsServer> {
  const server: Server = nodeBuiltin('node:http').createServer((request, response) => {
    const path = request.url?.split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('metrics are at GET /metrics\n');
      return;
    }
    const body = renderPrometheus(registry);
    response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  // The metrics port must never keep a function's process alive on its own.
  server.unref();
  return new Promise((resolve, reject) => {
    server.once('error', (error) =>
      reject(
        new Error(
          `telemetry.metrics: cannot listen on ${host}:${port} (${(error as Error).message}); choose another port`,
        ),
      ),
    );
    server.listen(port, host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
