import { describe, expect, it } from 'vitest';
import { openfaasFacts, openfaasSettings } from './server.ts';

describe('openfaas facts', () => {
  it('takes X-Call-Id as the invocation id', () => {
    expect(
      openfaasFacts({ 'x-call-id': '6d5a8f46-1c8e-4a4a-9d0b-6a1f0f0a1b2c' }, undefined).invocationId,
    ).toBe('6d5a8f46-1c8e-4a4a-9d0b-6a1f0f0a1b2c');
  });

  it('ignores a call id that is not id-shaped, so the pipeline generates one', () => {
    expect(openfaasFacts({ 'x-call-id': 'x'.repeat(500) }, undefined).invocationId).toBeUndefined();
    expect(openfaasFacts({ 'x-call-id': 'line\nbreak' }, undefined).invocationId).toBeUndefined();
  });

  it('uses the sooner of exec_timeout and X-Timeout as the deadline', () => {
    const now = Date.now();
    const byHeader = openfaasFacts({ 'x-timeout': '2s' }, 10_000).deadline!;
    expect(byHeader - now).toBeGreaterThanOrEqual(1_990);
    expect(byHeader - now).toBeLessThan(2_100);
    const byExec = openfaasFacts({ 'x-timeout': '1m' }, 5_000).deadline!;
    expect(byExec - now).toBeLessThan(5_100);
    expect(openfaasFacts({}, undefined).deadline).toBeUndefined();
    expect(openfaasFacts({ 'x-timeout': 'nonsense' }, 3_000).deadline! - now).toBeLessThan(3_100);
  });

  it('reads http_port, exec_timeout and write_timeout from the environment', () => {
    const settings = openfaasSettings({
      env: { http_port: '3100', exec_timeout: '1m30s', write_timeout: '20s' },
    });
    expect(settings).toMatchObject({ port: 3100, execTimeoutMs: 90_000, gracePeriodMs: 20_000 });
    expect(openfaasSettings({ env: {} })).toMatchObject({
      port: 3000,
      execTimeoutMs: undefined,
      gracePeriodMs: 10_000,
    });
    expect(openfaasSettings({ env: { exec_timeout: '0' } }).execTimeoutMs).toBeUndefined();
  });

  it('refuses an exec_timeout that is not a Go duration, naming it', () => {
    expect(() => openfaasSettings({ env: { exec_timeout: '10 seconds' } })).toThrow(
      /openfaas\.execTimeout: "10 seconds" is not a Go duration/,
    );
  });
});
