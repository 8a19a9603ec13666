import { fileURLToPath } from 'node:url';
import { forward, startWatchdog } from '@sidecarless/testing';
import type { AdapterUnderTest } from '../harness.ts';

/**
 * OpenFaaS: the contract function runs as a real child process behind the of-watchdog
 * stand-in (HTTP mode), and every request goes through the watchdog as the gateway sends it.
 */
export const openfaasAdapter: AdapterUnderTest = {
  name: 'openfaas (of-watchdog HTTP mode, child process)',
  platform: 'openfaas',
  async start() {
    const watchdog = await startWatchdog({
      command: process.execPath,
      args: [fileURLToPath(new URL('./openfaas-function.ts', import.meta.url))],
      execTimeout: '10s',
    });
    return {
      send: (request) => forward(watchdog.url, request),
      socket: { port: Number(new URL(watchdog.url).port) },
      async stop() {
        await watchdog.terminate();
        await watchdog.close();
      },
    };
  },
};
