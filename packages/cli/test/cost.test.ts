/**
 * `sidecarless cost` as a user runs it, on a small handler (core, the Lambda adapter, auth):
 * esbuild bundles it as SAM does, fresh Node processes time it. Two runs keep the test quick; the
 * assertions are about the shape and the order of magnitude, not about milliseconds.
 */
import { describe, expect, it } from 'vitest';
import { handlerPath, sidecarless } from './run-cli.js';

interface CostDocument {
  build: { format: string; target: string; external: string[] };
  packages: { name: string; kind: string; bytes: number; pulledInBy: string[]; importMs?: number }[];
  bare: {
    bytes: number;
    importMs: number;
    loadMs: number;
    firstInvocationMs: number;
    samples: { importMs: number[] };
  };
  handler: { bytes: number; importMs: number; loadMs: number; firstInvocationMs: number; failure?: string };
  added: { bytes: number; importMs: number; loadMs: number; firstInvocationMs: number };
  runs: number;
  noiseMs: number;
}

describe('sidecarless cost', () => {
  it('attributes the bundle to packages and times import and first invocation against a bare handler', async () => {
    const { code, stdout, stderr } = await sidecarless([
      'cost',
      handlerPath('small-lambda.ts'),
      '--runs',
      '2',
      '--json',
    ]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const document = JSON.parse(stdout) as CostDocument;
    expect(document.build).toMatchObject({ format: 'cjs', target: 'node22', external: ['@aws-sdk/*'] });
    expect(document.runs).toBe(2);
    expect(document.bare.samples.importMs).toHaveLength(2);
    const names = document.packages.map((row) => row.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'the handler',
        '@sidecarless/core',
        '@sidecarless/lambda',
        '@sidecarless/auth',
      ]),
    );
    // Nothing that is not configured: no telemetry, no outbound, no undici.
    expect(names).not.toContain('@sidecarless/outbound');
    expect(names).not.toContain('undici');
    const row = (name: string) => document.packages.find((candidate) => candidate.name === name)!;
    // jose is auth's; the kernel is tens of KB, the handler's own code a few hundred bytes.
    if (names.includes('jose')) expect(row('jose').pulledInBy).toEqual(['@sidecarless/auth']);
    expect(row('@sidecarless/core').bytes).toBeGreaterThan(10_000);
    expect(row('the handler').bytes).toBeLessThan(2_000);
    for (const name of ['@sidecarless/core', '@sidecarless/lambda', '@sidecarless/auth'])
      expect(typeof row(name).importMs).toBe('number');
    // The parts add up to the bundle.
    expect(document.packages.reduce((sum, part) => sum + part.bytes, 0)).toBe(document.handler.bytes);
    expect(document.handler.bytes).toBeGreaterThan(document.bare.bytes * 20);
    // A Node process takes tens of ms to start; the module's own load is part of it. Process start
    // varies with the machine's load, the module's load much less: only the latter is compared.
    expect(document.bare.importMs).toBeGreaterThan(5);
    expect(document.bare.importMs).toBeLessThan(2_000);
    expect(document.handler.importMs).toBeGreaterThan(document.handler.loadMs);
    expect(document.handler.loadMs).toBeGreaterThan(document.bare.loadMs);
    expect(document.handler.firstInvocationMs).toBeGreaterThan(document.bare.firstInvocationMs);
    expect(document.noiseMs).toBeGreaterThanOrEqual(0);
    expect(document.added.bytes).toBe(document.handler.bytes - document.bare.bytes);
    expect(document.handler.failure).toBeUndefined();
  });

  it('prints a table a person reads: one row per package, the whole handler against the bare one', async () => {
    const { code, stdout } = await sidecarless(['cost', handlerPath('small-lambda.ts'), '--runs', '1']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^sidecarless cost .*small-lambda\.ts — export "handler", event api-gw-v2\n/);
    expect(stdout).toMatch(/^package +bundle KB +import ms, alone$/m);
    expect(stdout).toMatch(/^@sidecarless\/core +\d+\.\d +[+-]\d+\.\d$/m);
    expect(stdout).toMatch(/^@sidecarless\/auth +\d+\.\d +[+-]\d+\.\d$/m);
    expect(stdout).toMatch(
      /^whole handler +bundle KB +import ms +of which the module +first invocation ms$/m,
    );
    expect(stdout).toMatch(/^bare handler +\d+\.\d +\d+\.\d +\d+\.\d +\d+\.\d$/m);
    expect(stdout).toMatch(/^this handler +\d+\.\d +\d+\.\d +\d+\.\d +\d+\.\d$/m);
    expect(stdout).toMatch(/^added +\+\d+\.\d +[+-]\d+\.\d +[+-]\d+\.\d +[+-]\d+\.\d$/m);
    expect(stdout).toMatch(/A bare process varies by ±\d+\.\d ms here/);
    expect(stdout).not.toContain('\x1b[');
  });

  it('names the fix for a handler without the export, and for a bad --runs', async () => {
    const missing = await sidecarless([
      'cost',
      handlerPath('small-lambda.ts'),
      '--export',
      'api',
      '--runs',
      '1',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      'sidecarless: small-lambda.ts does not export "api"; it exports handler — use --export handler\n',
    );
    const runs = await sidecarless(['cost', handlerPath('small-lambda.ts'), '--runs', 'many']);
    expect(runs.code).toBe(2);
    expect(runs.stderr).toBe(
      'sidecarless: --runs: "many" is not a whole number from 1 to 100; use --runs 5\n',
    );
    const help = await sidecarless(['cost', '--help']);
    expect(help.stdout).toContain('Examples:\n  sidecarless cost src/orders.ts --export api\n');
  });
});
