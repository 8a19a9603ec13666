/** Shared helpers for the tests of every Sidecarless package. */

export { lambdaContext, lambdaEvent, lambdaEventsDir, type TestLambdaContext } from './lambda-context.js';
export { type CapturedLogs, captureLogs, type LogLine } from './logs.js';
export { resetColdStart } from './process.js';
