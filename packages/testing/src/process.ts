/**
 * Forgets that this process has invoked a handler, so the next invocation is a cold start
 * again. Cold start is deliberately process-wide in the kernel; tests that assert it reset it.
 */
export function resetColdStart(): void {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('sidecarless.process-has-invoked')];
}
