import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secrets } from './secrets.ts';

describe('secrets', () => {
  const directory = mkdtempSync(join(tmpdir(), 'scl-secrets-'));
  writeFileSync(join(directory, 'jwt-key'), 'key-material-do-not-log\n');
  writeFileSync(join(directory, 'blob'), Buffer.from([0, 255, 1]));

  it('reads a secret by name from the configured directory, without the trailing newline', () => {
    const store = secrets({ directory });
    expect(store.read('jwt-key')).toBe('key-material-do-not-log');
    expect(store.readBytes('blob')).toEqual(Buffer.from([0, 255, 1]));
    expect(store.path('jwt-key')).toBe(join(directory, 'jwt-key'));
  });

  it('defaults to the OpenFaaS mount point', () => {
    const before = process.env.SIDECARLESS_SECRETS_DIR;
    delete process.env.SIDECARLESS_SECRETS_DIR;
    try {
      expect(secrets().directory).toBe('/var/openfaas/secrets');
    } finally {
      if (before !== undefined) process.env.SIDECARLESS_SECRETS_DIR = before;
    }
  });

  it('names a missing secret and the fix', () => {
    expect(() => secrets({ directory }).read('absent')).toThrow(
      /secret "absent" is not mounted at .*absent; add it under "secrets:" in stack.yml/,
    );
  });

  it('refuses names that would leave the secrets directory', () => {
    for (const name of ['../etc/passwd', '..', 'a/b', '', '.hidden']) {
      expect(() => secrets({ directory }).path(name)).toThrow(/is not valid/);
    }
  });
});
