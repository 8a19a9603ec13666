/** Shared helpers for the tests of every Sidecarless package. */

export { forward } from './forward.js';
export {
  type KubelessRuntimeFunction,
  type RunningKubelessRuntime,
  startKubelessRuntime,
} from './kubeless-runtime.js';
export { type CapturedLogs, captureLogs, type LogLine } from './logs.js';
export { resetColdStart } from './process.js';
export { type RunningWatchdog, startWatchdog, type WatchdogOptions } from './watchdog.js';
