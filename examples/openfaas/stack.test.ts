/**
 * The OpenFaaS example: stack.yml has the shape faas-cli accepts (checked field by field below:
 * OpenFaaS publishes no machine-readable schema), carries the scale labels and Prometheus
 * annotations, points at a handler folder that exists, and that handler really serves behind the
 * of-watchdog stand-in.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startWatchdog } from '@sidecarless/testing';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

interface StackFunction {
  lang: string;
  handler: string;
  image: string;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
  environment?: Record<string, unknown>;
  secrets?: unknown[];
}

const stack = parse(readFileSync(here('./stack.yml'), 'utf8')) as {
  version: unknown;
  provider: { name: string; gateway: string };
  functions: Record<string, StackFunction>;
};

describe('examples/openfaas/stack.yml', () => {
  it('has the shape faas-cli reads', () => {
    expect(String(stack.version)).toBe('1');
    expect(stack.provider).toMatchObject({
      name: 'openfaas',
      gateway: expect.stringMatching(/^https?:\/\//),
    });
    for (const [name, fn] of Object.entries(stack.functions)) {
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(typeof fn.lang).toBe('string');
      expect(typeof fn.image).toBe('string');
      // Labels, annotations and environment values must be strings in Kubernetes.
      for (const map of [fn.labels, fn.annotations, fn.environment]) {
        for (const value of Object.values(map ?? {})) expect(typeof value).toBe('string');
      }
      for (const secret of fn.secrets ?? []) expect(secret).toMatch(/^[a-z0-9][-a-z0-9.]*$/);
    }
  });

  it('carries the scale labels and Prometheus annotations', () => {
    const fn = stack.functions['image-processor']!;
    expect(fn.labels).toEqual({ 'com.openfaas.scale.min': '1', 'com.openfaas.scale.max': '20' });
    expect(fn.annotations).toEqual({ 'prometheus.io.scrape': 'true', 'prometheus.io.port': '8081' });
    expect(fn.environment).toMatchObject({ mode: 'http', upstream_url: 'http://127.0.0.1:3000' });
  });

  it('points at a handler folder whose Dockerfile starts the handler it ships', () => {
    const fn = stack.functions['image-processor']!;
    const dockerfile = readFileSync(here(`${fn.handler}/Dockerfile`), 'utf8');
    const fprocess = /fprocess="node ([^"]+)"/.exec(dockerfile)?.[1];
    expect(fprocess).toBeDefined();
    expect(existsSync(here(`${fn.handler}/${fprocess}`))).toBe(true);
  });

  it('serves its handler behind the watchdog', async () => {
    const fn = stack.functions['image-processor']!;
    const watchdog = await startWatchdog({
      command: process.execPath,
      args: [here(`${fn.handler}/index.mjs`)],
      env: { LOG_LEVEL: 'silent' },
      execTimeout: String(fn.environment?.exec_timeout),
    });
    try {
      const response = await fetch(`${watchdog.url}/`, {
        method: 'POST',
        headers: { 'x-call-id': 'example-1' },
        body: new Uint8Array(1024),
      });
      expect(await response.json()).toMatchObject({ id: 'example-1', bytes: 1024 });
      expect(await watchdog.terminate()).toBe(0);
    } finally {
      await watchdog.close();
    }
  });
});
