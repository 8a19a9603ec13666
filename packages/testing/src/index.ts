/** Shared helpers for the tests of every Sidecarless package. */

export { type CertifiedKey, createCa, type IssueOptions, parseCertificate, type TestCa } from './certs.js';
export { type CapturedLogs, captureLogs, type LogLine } from './logs.js';
export {
  decodeOtlpJson,
  type OtlpReceiver,
  OtlpSpanKind,
  type ReceivedSpan,
  startOtlpReceiver,
} from './otlp-receiver.js';
export { resetColdStart } from './process.js';
