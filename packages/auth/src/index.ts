/**
 * `@sidecarless/auth`: inbound security checked inside the function — JWT authentication (Istio
 * RequestAuthentication), authorization policies (AuthorizationPolicy) and the mTLS peer's
 * identity — as one pipeline stage. Register it with the mesh:
 *
 * @example
 * ```ts
 * import { auth } from '@sidecarless/auth';
 * import { createMesh } from '@sidecarless/core';
 *
 * const mesh = createMesh(
 *   {
 *     service: 'orders',
 *     auth: {
 *       jwt: [{ issuer: 'https://id.example.com', jwksUri: 'https://id.example.com/.well-known/jwks.json', audiences: ['orders'] }],
 *       policies: [{ name: 'writers', action: 'ALLOW', rules: [{ when: [{ key: 'request.auth.claims[scope]', values: ['orders:write'] }] }] }],
 *     },
 *   },
 *   [auth],
 * );
 * ```
 *
 * @packageDocumentation
 */
import type { Feature } from '@sidecarless/core';
import { type AuthOptions, checkAuth, type NormalizedAuth } from './options.js';
import { createAuthStage } from './stage.js';

export type { AuthInfo, PeerCertificateFact, PeerIdentity } from '@sidecarless/core';
export { AuthChannels, type AuthDenyReason, type DeniedMessage, type JwksMessage } from './events.js';
export type {
  AuthOptions,
  AuthorizationPolicy,
  JwtRule,
  PeerAuthenticationOptions,
  PolicyCondition,
  PolicyOperation,
  PolicyRule,
  PolicySource,
} from './options.js';
export { AuthErrorCodes } from './stage.js';

/** The auth feature: owns the `auth` options section. Pass it to `createMesh(options, [auth])`. */
export const auth: Feature<'auth', AuthOptions, NormalizedAuth> = {
  name: 'auth',
  section: 'auth',
  // A policy or key change starts a new stage beside the running one (mesh.reconfigure).
  reloadable: true,
  check: (value, path, issues) => checkAuth(value, path, issues),
  // The token sources are secret on every log line (headers, cookies, query parameters).
  secrets: (section) => ({
    fields: section.jwt.flatMap((rule) => [
      ...rule.fromHeaders.map((header) => header.name),
      ...rule.fromCookies,
    ]),
    params: section.jwt.flatMap((rule) => rule.fromParams),
  }),
  start: (host) => (host.section === undefined ? undefined : createAuthStage(host)),
};

// Importing this package adds its section to `MeshOptions`, so option objects typed as
// `MeshOptions` anywhere in the program get completion and checking for it.
declare module '@sidecarless/core' {
  interface MeshOptions {
    /** Inbound JWT authentication, authorization policies and peer identity (`@sidecarless/auth`). */
    auth?: AuthOptions;
  }
}
