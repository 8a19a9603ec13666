/**
 * What the outbound client reports, for telemetry to turn into spans and metrics. Published on
 * `node:diagnostics_channel`, so nothing is built when nobody subscribes (`hasSubscribers` is a
 * field read). Channels are process-wide by nature; the messages carry the upstream name, and no
 * state lives here.
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 *
 * subscribe('sidecarless:upstream:request', (message) => {
 *   const { upstream, status, errorCode } = message as { upstream: string; status?: number; errorCode?: string };
 *   console.log(upstream, status ?? errorCode);
 * });
 * ```
 */
import { channel } from 'node:diagnostics_channel';

/** Channel names, stable across versions. */
export const UpstreamChannels = {
  /** Before each attempt: {@link AttemptStartMessage}. A subscriber may set `context` to the span's context. */
  attemptStart: 'sidecarless:upstream:attempt-start',
  /** After each attempt: {@link AttemptEndMessage}. */
  attemptEnd: 'sidecarless:upstream:attempt-end',
  /** Once per `fetch`/`call`, at the end: {@link RequestEndMessage} (for `requests_total{upstream,code}`). */
  request: 'sidecarless:upstream:request',
  /** A retry is about to wait and go: {@link RetryMessage}. */
  retry: 'sidecarless:upstream:retry',
  /** The circuit changed state: {@link CircuitMessage}. */
  circuit: 'sidecarless:upstream:circuit',
  /** An endpoint was ejected: {@link EjectionMessage}. */
  ejection: 'sidecarless:upstream:ejection',
  /** TLS material was reloaded from its files (or a reload was refused): {@link TlsReloadMessage}. */
  tlsReload: 'sidecarless:upstream:tls-reload',
} as const;

export interface AttemptStartMessage {
  readonly upstream: string;
  readonly attempt: number;
  /** `"CALL"` for `call(work)`. */
  readonly method: string;
  readonly url: string | undefined;
  /** Outgoing headers (lower-case names); telemetry may read them. */
  readonly headers: Record<string, string> | undefined;
  /** Set by a subscriber to the OpenTelemetry context to inject (its CLIENT span); default the active one. */
  context?: unknown;
}
export interface AttemptEndMessage {
  readonly upstream: string;
  readonly attempt: number;
  readonly endpoint: string | undefined;
  readonly status: number | undefined;
  readonly errorCode: string | undefined;
  readonly durationMs: number;
  /** The start message of this attempt (same object), so a span can be ended. */
  readonly start: AttemptStartMessage;
}
export interface RequestEndMessage {
  readonly upstream: string;
  readonly attempts: number;
  readonly status: number | undefined;
  readonly errorCode: string | undefined;
  readonly durationMs: number;
}
export interface RetryMessage {
  readonly upstream: string;
  /** The attempt about to start. */
  readonly attempt: number;
  /** What failed: a status code as text, or an error code. */
  readonly reason: string;
  readonly delayMs: number;
}
export interface CircuitMessage {
  readonly upstream: string;
  readonly state: 'closed' | 'open' | 'half-open' | 'isolated';
}
export interface EjectionMessage {
  readonly upstream: string;
  readonly endpoint: string;
  readonly ejectedForMs: number;
  readonly ejections: number;
}
export interface TlsReloadMessage {
  readonly upstream: string;
  readonly ok: boolean;
  readonly error: string | undefined;
}

export const attemptStartChannel = channel(UpstreamChannels.attemptStart);
export const attemptEndChannel = channel(UpstreamChannels.attemptEnd);
export const requestChannel = channel(UpstreamChannels.request);
export const retryChannel = channel(UpstreamChannels.retry);
export const circuitChannel = channel(UpstreamChannels.circuit);
export const ejectionChannel = channel(UpstreamChannels.ejection);
export const tlsReloadChannel = channel(UpstreamChannels.tlsReload);
