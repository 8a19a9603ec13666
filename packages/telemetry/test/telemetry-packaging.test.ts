/**
 * The built telemetry feature under Lambda's CommonJS constraints: loaded lazily, loadable with
 * require(esm) off, and exporting to a real receiver from a child process.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startOtlpReceiver } from '@sidecarless/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/cjs-traced.cjs', import.meta.url));

describe('the built telemetry feature', () => {
  beforeAll(() => {
    const dist = fileURLToPath(new URL('../dist/cjs/index.js', import.meta.url));
    expect(existsSync(dist), 'run `pnpm build` first (pnpm test does)').toBe(true);
  });

  it('loads from CommonJS with require(esm) off and exports the span', async () => {
    const receiver = await startOtlpReceiver();
    try {
      const { stdout } = await run(process.execPath, [
        '--no-experimental-require-module',
        fixture,
        receiver.url,
      ]);
      const result = JSON.parse(stdout) as { status: number; before: number; after: number };
      expect(result.status).toBe(200);
      // Nothing of OpenTelemetry is loaded by createMesh itself; the first invocation loads it.
      expect(result.before).toBe(0);
      expect(result.after).toBeGreaterThan(0);
      const [span] = await receiver.waitForSpans(1);
      expect(span!.resource['service.name']).toBe('cjs-traced');
      expect(span!.attributes['url.path']).toBe('/cjs-traced');
    } finally {
      await receiver.close();
    }
  });

  it('loads only @opentelemetry/api for metrics without tracing: the application MeterProvider', async () => {
    const { stdout } = await run(process.execPath, [
      '--no-experimental-require-module',
      fixture,
      'metrics-only',
    ]);
    const all = JSON.parse(stdout) as { after: number };
    expect(all.after).toBeGreaterThan(0);
    const { stdout: withoutApi } = await run(process.execPath, [
      '--no-experimental-require-module',
      fixture,
      'metrics-only',
      'api-only',
    ]);
    expect(JSON.parse(withoutApi)).toEqual({ status: 200, before: 0, after: 0 });
  });

  it('loads nothing of OpenTelemetry for metrics without tracing and application: false', async () => {
    const { stdout } = await run(process.execPath, [
      '--no-experimental-require-module',
      fixture,
      'metrics-without-application',
    ]);
    expect(JSON.parse(stdout)).toEqual({ status: 200, before: 0, after: 0 });
  });

  it("registers the application's MeterProvider from CommonJS with require(esm) off", async () => {
    const { stdout } = await run(process.execPath, [
      '--no-experimental-require-module',
      fileURLToPath(new URL('./fixtures/cjs-app-metrics.cjs', import.meta.url)),
    ]);
    const [line, ...more] = stdout
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text) as Record<string, unknown>);
    expect(more).toEqual([]);
    expect(line).toMatchObject({ function: 'cjs-metrics', tier: 'gold', orders_placed_total: 1 });
    expect(JSON.stringify(line)).toContain('{"Namespace":"Test","Dimensions":[["tier"]]');
  });

  it('loads nothing of OpenTelemetry when telemetry is not configured', async () => {
    const { stdout } = await run(process.execPath, ['--no-experimental-require-module', fixture]);
    expect(JSON.parse(stdout)).toEqual({ status: 200, before: 0, after: 0 });
  });
});
