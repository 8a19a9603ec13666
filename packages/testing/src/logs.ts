import type { LogDestination } from '@sidecarless/core';

/** One parsed JSON log line. */
export type LogLine = Record<string, unknown> & { level?: string; msg?: string; time?: string };

/** A log destination that keeps every line, raw and parsed. */
export interface CapturedLogs {
  readonly destination: LogDestination;
  /** Every line written, as text. */
  readonly raw: string[];
  /** Every line written, parsed. */
  lines(): LogLine[];
  /** Lines whose `msg` equals `message`. */
  withMessage(message: string): LogLine[];
}

/** Captures a mesh's log lines: pass `logs.destination` as `logging.destination`. */
export function captureLogs(): CapturedLogs {
  const raw: string[] = [];
  const lines = () =>
    raw.flatMap((chunk) => chunk.split('\n').filter(Boolean)).map((line) => JSON.parse(line) as LogLine);
  return {
    destination: { write: (line: string) => raw.push(line) },
    raw,
    lines,
    withMessage: (message) => lines().filter((line) => line.msg === message),
  };
}
