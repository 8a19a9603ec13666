/** Shared helpers for the tests of every Sidecarless package. */

export { type CertifiedKey, createCa, type IssueOptions, parseCertificate, type TestCa } from './certs.js';
export { type ConfigMapVolume, configMapVolume } from './config-map.js';
export { forward } from './forward.js';
export { type FunctionProcess, killFunctionProcesses, startFunctionProcess } from './function-process.js';
export { type JwksServer, startJwksServer } from './jwks-server.js';
export {
  type KubelessRuntimeFunction,
  type RunningKubelessRuntime,
  startKubelessRuntime,
} from './kubeless-runtime.js';
export { lambdaContext, lambdaEvent, lambdaEventsDir, type TestLambdaContext } from './lambda-context.js';
export {
  type InitErrorReport,
  type ReceivedChunk,
  type RuntimeApiServer,
  type RuntimeInvocation,
  type RuntimeOutcome,
  startRuntimeApi,
} from './lambda-runtime-api.js';
export { type CapturedLogs, captureLogs, type LogLine } from './logs.js';
export {
  decodeOtlpJson,
  decodeOtlpProtobuf,
  type ExportRequest,
  type OtlpReceiver,
  OtlpSpanKind,
  type ReceivedSpan,
  startOtlpReceiver,
} from './otlp-receiver.js';
export { freePort } from './ports.js';
export { resetColdStart } from './process.js';
export { type RedisServer, type RedisServerOptions, startRedisServer } from './redis-server.js';
export { seeded } from './seeded.js';
export {
  craftToken,
  createSigningKey,
  nowSeconds,
  type SigningAlgorithm,
  type SigningKey,
} from './tokens.js';
export {
  type Behaviour,
  createUpstreamServer,
  type RecordedRequest,
  refusedPort,
  type UpstreamServer,
  type UpstreamServerOptions,
} from './upstream-server.js';
export { type RunningWatchdog, startWatchdog, type WatchdogOptions } from './watchdog.js';
