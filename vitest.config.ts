import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources: every package's `exports` map carries a
// `@sidecarless/source` condition that points at `src/`, so no build is needed to test.
// The packaging tests (packages/core/test/packaging.test.ts) load the built `dist/` on purpose.
// No `module` condition: packages such as OpenTelemetry's map it to a build with extensionless
// imports that Node's own loader rejects (the `default`/`import` builds are what Node loads too).
const conditions = ['@sidecarless/source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['node'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'tests/**/*.test.ts',
      'examples/**/*.test.ts',
    ],
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 60_000,
    allowOnly: false,
    passWithNoTests: false,
  },
});
