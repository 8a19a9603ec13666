import type { FeatureHost, Logger } from '@sidecarless/core';
import { type FeatureContext, lineWriter } from '@sidecarless/core/feature';
/**
 * The access line: one JSON log line per invocation, in the same shape as the mesh's logger's lines
 * (level, time, service, version, invocation bindings, trace ids, fields, msg), written to the
 * same destination.
 *
 * Why not `ctx.log.info(...)`: every field here is chosen by this module and none can hold a
 * secret (no headers, no query string, no token — only the principal's name), so the mesh
 * logger's redaction pass buys nothing, and it was the expensive part of a logged line: measured
 * 45 µs for a one-field line and ~100 µs for the access line with the kernel's 60-odd wildcard
 * redaction paths, against ~3 µs for this hand-built line (bench/telemetry.bench.ts).
 */

/** One invocation's outcome, as the access line reports it. */
export interface AccessFacts {
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly status: number | undefined;
  readonly durationMs: number;
  readonly failed: boolean;
  readonly timedOut: boolean;
}

export type AccessLogger = (ctx: FeatureContext, facts: AccessFacts) => void;

/** Builds the access logger for a mesh, or undefined when the level hides `info` and `warn`. */
export function createAccessLogger(
  options: Pick<FeatureHost, 'service' | 'version' | 'logging'>,
  log: Logger,
): AccessLogger {
  const write = lineWriter(options.logging.destination);
  const upper = options.logging.upperCaseLevels;
  // The fixed part after `time`, serialised once.
  let base = `,"service":${JSON.stringify(options.service)}`;
  if (options.version !== undefined) base += `,"version":${JSON.stringify(options.version)}`;
  const infoLevel = upper ? '"INFO"' : '"info"';
  const warnLevel = upper ? '"WARN"' : '"warn"';

  if (options.logging.logger !== undefined) return throughApplicationLogger(log);
  return function writeAccessLine(ctx, facts) {
    const level = facts.failed ? 'warn' : 'info';
    if (!log.isLevelEnabled(level)) return;
    let line = `{"level":${facts.failed ? warnLevel : infoLevel},"time":"${new Date().toISOString()}"${base}`;
    line += `,"invocation_id":${JSON.stringify(ctx.invocationId)},"platform":${JSON.stringify(ctx.platform)},"cold_start":${ctx.coldStart}`;
    const trace = ctx.traceLogFields;
    if (trace !== undefined)
      line += `,"trace_id":"${trace.trace_id}","span_id":"${trace.span_id}","trace_flags":"${trace.trace_flags}"`;
    line += `,"duration_ms":${Math.round(facts.durationMs * 1000) / 1000}`;
    if (facts.method !== undefined) {
      line += `,"method":${JSON.stringify(facts.method)},"path":${JSON.stringify(facts.path ?? '/')}`;
      if (facts.status !== undefined) line += `,"status":${facts.status}`;
    } else {
      line += `,"trigger":"${ctx.trigger}","outcome":"${facts.failed ? 'error' : 'ok'}"`;
    }
    // The principal names who called (subject or workload), never the credential itself.
    const principal = ctx.auth?.principal ?? ctx.peer?.principal;
    if (principal !== undefined) line += `,"principal":${JSON.stringify(principal)}`;
    if (facts.timedOut) line += ',"timed_out":true';
    write(`${line},"msg":"access"}\n`);
  };
}

/**
 * With the application's pino (`logging.logger`) the access line is one of its lines too: the
 * same fields, through the mesh's root logger (which carries service and version), in the
 * application's format and transports.
 */
function throughApplicationLogger(log: Logger): AccessLogger {
  return (ctx, facts) => {
    const level = facts.failed ? 'warn' : 'info';
    if (!log.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = {
      invocation_id: ctx.invocationId,
      platform: ctx.platform,
      cold_start: ctx.coldStart,
      ...ctx.traceLogFields,
      duration_ms: Math.round(facts.durationMs * 1000) / 1000,
    };
    if (facts.method !== undefined) {
      fields.method = facts.method;
      fields.path = facts.path ?? '/';
      if (facts.status !== undefined) fields.status = facts.status;
    } else {
      fields.trigger = ctx.trigger;
      fields.outcome = facts.failed ? 'error' : 'ok';
    }
    const principal = ctx.auth?.principal ?? ctx.peer?.principal;
    if (principal !== undefined) fields.principal = principal;
    if (facts.timedOut) fields.timed_out = true;
    log[level](fields, 'access');
  };
}
