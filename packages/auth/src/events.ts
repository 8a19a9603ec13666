/**
 * What authentication reports, on `node:diagnostics_channel` — the same mechanism the outbound
 * client uses (`UpstreamChannels`): nothing is built when nobody subscribes (`hasSubscribers` is
 * a field read), and the auth feature knows nothing of who counts. The telemetry stage counts
 * denials through `ctx.telemetry.authDenied` itself; these channels are for the application's
 * own alerting (a stale key set, a burst of refusals).
 *
 * @example
 * ```ts
 * import { subscribe } from 'node:diagnostics_channel';
 * import { AuthChannels, type JwksMessage } from '@sidecarless/auth';
 *
 * subscribe(AuthChannels.jwks, (message) => {
 *   const { issuer, state } = message as JwksMessage;
 *   if (state === 'unavailable') console.error(`no keys for ${issuer}`);
 * });
 * ```
 */
import { channel } from 'node:diagnostics_channel';

/** Channel names, stable across versions. */
export const AuthChannels = {
  /** A request was answered 401 or 403: {@link DeniedMessage}. */
  denied: 'sidecarless:auth:denied',
  /** A JWKS refresh failed — previous keys still in use (`stale`) or none loaded (`unavailable`): {@link JwksMessage}. */
  jwks: 'sidecarless:auth:jwks',
} as const;

/** Why a request was refused: a token failure code, `token_missing`, `mtls_required` or `policy_denied`. */
export type AuthDenyReason = string;

export interface DeniedMessage {
  readonly service: string;
  readonly reason: AuthDenyReason;
  readonly status: 401 | 403;
  /** The policy that decided, for 403. */
  readonly policy: string | undefined;
}

export interface JwksMessage {
  readonly service: string;
  readonly issuer: string;
  readonly state: 'stale' | 'unavailable';
}

const deniedChannel = channel(AuthChannels.denied);
const jwksChannel = channel(AuthChannels.jwks);

/** What the auth feature calls, for one mesh. */
export interface AuthEvents {
  denied(reason: AuthDenyReason, status: 401 | 403, policy: string | undefined): void;
  jwksStale(issuer: string): void;
  jwksUnavailable(issuer: string): void;
}

/** The publisher for one mesh's service. */
export function authEvents(service: string): AuthEvents {
  return {
    denied: (reason, status, policy) => {
      if (deniedChannel.hasSubscribers) deniedChannel.publish({ service, reason, status, policy });
    },
    jwksStale: (issuer) => {
      if (jwksChannel.hasSubscribers) jwksChannel.publish({ service, issuer, state: 'stale' });
    },
    jwksUnavailable: (issuer) => {
      if (jwksChannel.hasSubscribers) jwksChannel.publish({ service, issuer, state: 'unavailable' });
    },
  };
}
