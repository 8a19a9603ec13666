/**
 * Hooks other features (telemetry) use to count what authentication does —
 * `serverless_auth_denied_total{reason}`, stale-JWKS gauges — without the auth feature knowing
 * about metrics. This file imports nothing, so registering a sink does not load the auth feature.
 */
import type { NormalizedOptions } from '../options/index.js';

/** Why a request was refused: a token failure code, `token_missing`, `mtls_required` or `policy_denied`. */
export type AuthDenyReason = string;

/** Receives authentication events. Every method is optional and must not throw. */
export interface AuthEventSink {
  /** A request was answered 401 or 403. */
  denied?(reason: AuthDenyReason, status: 401 | 403): void;
  /** A JWKS refresh failed and the previous keys are still in use. */
  jwksStale?(issuer: string): void;
  /** A JWKS fetch failed and no keys are loaded for the issuer. */
  jwksUnavailable?(issuer: string): void;
}

// Keyed by the mesh's options object (one per mesh), in a registry shared by the ESM and CJS
// copies of the package, so a sink registered by one copy is seen by the other.
const registryKey = Symbol.for('sidecarless.auth-event-sinks');
type Registry = WeakMap<object, AuthEventSink[]>;

function registry(): Registry {
  const holder = globalThis as { [registryKey]?: Registry };
  holder[registryKey] ??= new WeakMap();
  return holder[registryKey];
}

/**
 * Registers `sink` for the mesh whose options are `options` (a feature's `host.options`).
 *
 * @example
 * ```ts no-check
 * registerAuthEventSink(host.options, { denied: (reason) => deniedCounter.add(1, { reason }) });
 * ```
 */
export function registerAuthEventSink(options: NormalizedOptions, sink: AuthEventSink): void {
  const sinks = registry().get(options);
  if (sinks) sinks.push(sink);
  else registry().set(options, [sink]);
}

/** What the auth feature calls; fans out to the registered sinks, read at call time. */
export interface AuthEvents {
  denied(reason: AuthDenyReason, status: 401 | 403): void;
  jwksStale(issuer: string): void;
  jwksUnavailable(issuer: string): void;
}

/** The emitter for one mesh. A sink that throws is ignored: counting must not break a request. */
export function authEvents(options: NormalizedOptions): AuthEvents {
  const each = (call: (sink: AuthEventSink) => void) => {
    const sinks = registry().get(options);
    if (!sinks) return;
    for (const sink of sinks) {
      try {
        call(sink);
      } catch {
        // deliberately ignored, see above
      }
    }
  };
  return {
    denied: (reason, status) => each((sink) => sink.denied?.(reason, status)),
    jwksStale: (issuer) => each((sink) => sink.jwksStale?.(issuer)),
    jwksUnavailable: (issuer) => each((sink) => sink.jwksUnavailable?.(issuer)),
  };
}
