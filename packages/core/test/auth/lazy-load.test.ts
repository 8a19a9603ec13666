/**
 * Cold start is the product: the auth feature's code must be loaded only when `auth` is
 * configured. Proven in a fresh CommonJS process on the built package (require(esm) off, as on
 * Lambda's nodejs22.x), by looking at what `require` loaded.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../../dist/cjs/index.js', import.meta.url));

function loadedAuthModules(withAuth: boolean): string[] {
  const script = `
    const { createMesh } = require(${JSON.stringify(dist)});
    const options = { service: 'lazy', logging: { level: 'silent' } };
    if (${withAuth}) options.auth = { policies: [{ action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] }] };
    createMesh(options).ready().then(() => {
      const loaded = Object.keys(require.cache).filter((file) => /[\\\\/]auth[\\\\/]/.test(file));
      process.stdout.write(JSON.stringify(loaded));
    });
  `;
  const result = spawnSync(process.execPath, ['--no-experimental-require-module', '-e', script], {
    encoding: 'utf8',
  });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as string[];
}

describe('lazy loading of the auth feature', () => {
  it('loads no auth module when auth is not configured', () => {
    expect(loadedAuthModules(false)).toEqual([]);
  });

  it('loads the auth modules from CommonJS when auth is configured', () => {
    expect(loadedAuthModules(true).some((file) => file.endsWith('index.js'))).toBe(true);
  });
});
