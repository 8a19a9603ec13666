#!/usr/bin/env node
/**
 * `sidecarless`: check Istio resources for a function, invoke a handler locally, and measure
 * what each feature costs a cold start. Exit codes: 0 done (and, for check, everything
 * honoured), 1 the answer is no (something not honoured, the handler failed), 2 a usage error.
 */
import { main } from './main.js';
import { UsageError } from './terminal.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A user's mistake is one line naming the fix; anything else is ours, and its stack helps.
    const message = error instanceof UsageError ? error.message : ((error as Error).stack ?? String(error));
    process.stderr.write(`sidecarless: ${message}\n`);
    process.exit(2);
  },
);
