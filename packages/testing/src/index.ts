/** Shared helpers for the tests of every Sidecarless package. */

export { type CertifiedKey, createCa, type IssueOptions, parseCertificate, type TestCa } from './certs.js';
export { type CapturedLogs, captureLogs, type LogLine } from './logs.js';
export { resetColdStart } from './process.js';
export {
  type Behaviour,
  createUpstreamServer,
  type RecordedRequest,
  refusedPort,
  type UpstreamServer,
  type UpstreamServerOptions,
} from './upstream-server.js';
