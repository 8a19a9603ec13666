/** Shared helpers for the tests of every Sidecarless package. */
export { type CapturedLogs, captureLogs, type LogLine } from './logs.js';
export { resetColdStart } from './process.js';
