/**
 * The auth feature: peer identity, JWT authentication and authorization policy as one pipeline
 * stage, started at `createMesh` when the `auth` feature is registered and its section is set.
 *
 * Per request, in order: peer identity (and `STRICT` mTLS), token extraction and verification
 * (401 on an invalid token, or a missing one when a rule is `required`), policy (403), then the
 * request is rewritten (token removed unless forwarded, claims copied to headers) and handed on.
 */

import type { X509Certificate } from 'node:crypto';
import {
  type FeatureHost,
  type HttpNext,
  type Logger,
  type MeshContext,
  type PeerIdentity,
  SidecarlessError,
  type Stage,
} from '@sidecarless/core';
import {
  badRequest,
  clientAddress,
  type FeatureContext,
  invocationOf,
  ipMatcher,
  nodeBuiltin,
  normalizeIp,
} from '@sidecarless/core/feature';
import { type AuthEvents, authEvents } from './events.js';
import { TokenError } from './jws.js';
import { JwtVerifier, type VerifiedToken } from './jwt.js';
import type { NormalizedAuth, NormalizedJwtRule } from './options.js';
import { checkCertificate, identityFromCertificate, identityFromXfcc } from './peer.js';
import { compilePolicies, type Decision, type RequestAttributes } from './policy.js';
import { policyPath } from './policy-path.js';

/** Error codes the auth feature raises. */
export const AuthErrorCodes = {
  unauthenticated: 'SCL_ERR_UNAUTHENTICATED',
  forbidden: 'SCL_ERR_FORBIDDEN',
} as const;

// RFC 6750 §3: the challenge for a missing token carries no error code; for a bad one, invalid_token.
const challengeMissing = 'Bearer';
const challengeInvalid = 'Bearer error="invalid_token"';

function unauthenticated(challenge: string): SidecarlessError {
  const message =
    challenge === challengeMissing ? 'a bearer token is required' : 'the bearer token is not valid';
  return new SidecarlessError(AuthErrorCodes.unauthenticated, message, {
    status: 401,
    headers: { 'www-authenticate': challenge },
  });
}

function forbidden(): SidecarlessError {
  // Names nothing: which policy decided is in the log, not in the answer.
  return new SidecarlessError(AuthErrorCodes.forbidden, 'access denied', { status: 403 });
}

/** Where one token location is read, and which issuers may use it. */
interface Location {
  readonly kind: 'header' | 'param' | 'cookie';
  readonly name: string;
  readonly prefix: string;
  readonly issuers: Set<string>;
}

function locationsOf(rules: readonly NormalizedJwtRule[]): Location[] {
  const byKey = new Map<string, Location>();
  const add = (kind: Location['kind'], name: string, prefix: string, issuer: string) => {
    const key = `${kind}\u0000${name}\u0000${prefix.toLowerCase()}`;
    const existing = byKey.get(key);
    if (existing) existing.issuers.add(issuer);
    else byKey.set(key, { kind, name, prefix, issuers: new Set([issuer]) });
  };
  for (const rule of rules) {
    for (const header of rule.fromHeaders) add('header', header.name, header.prefix, rule.issuer);
    for (const param of rule.fromParams) add('param', param, '', rule.issuer);
    for (const cookie of rule.fromCookies) add('cookie', cookie, '', rule.issuer);
  }
  return [...byKey.values()];
}

function readCookie(header: string | null, name: string): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The token found on a request, and where. */
interface Found {
  readonly token: string;
  readonly location: Location;
}

/**
 * Finds the request's token. More than one distinct token is refused: which one a proxy and
 * which one we verify must never differ.
 */
function findToken(
  request: Request,
  locations: readonly Location[],
  url: () => URL,
): Found | 'ambiguous' | undefined {
  let found: Found | undefined;
  for (const location of locations) {
    let token: string | undefined;
    if (location.kind === 'header') {
      const value = request.headers.get(location.name);
      if (value === null) continue;
      if (location.prefix === '') token = value.trim();
      else if (
        value.length > location.prefix.length &&
        value.slice(0, location.prefix.length).toLowerCase() === location.prefix.toLowerCase()
      ) {
        token = value.slice(location.prefix.length).trim();
      }
    } else if (location.kind === 'param') {
      token = url().searchParams.get(location.name) ?? undefined;
    } else {
      token = readCookie(request.headers.get('cookie'), location.name);
    }
    if (token === undefined || token === '') continue;
    if (found !== undefined && found.token !== token) return 'ambiguous';
    found ??= { token, location };
  }
  return found;
}

/** Reads `a.b.c` from the claims. */
function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function headerValue(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value))
    return value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(',');
  return JSON.stringify(value);
}

/** Applies header edits in place, or on a copy when the request's headers are immutable. */
function editRequest(request: Request, edits: (headers: Headers) => void, url?: URL): Request {
  if (url === undefined) {
    try {
      edits(request.headers);
      return request;
    } catch {
      // immutable headers: fall through to a copy
    }
  }
  const headers = new Headers(request.headers);
  edits(headers);
  const init: RequestInit & { duplex?: 'half' } = { method: request.method, headers, signal: request.signal };
  if (request.body !== null) {
    init.body = request.body;
    init.duplex = 'half';
  }
  return new Request(url ?? request.url, init);
}

/** Path, host and port from a URL string without building a `URL` (a few µs per request). */
function splitUrl(url: string): { path: string; host: string; port: string } {
  const schemeEnd = url.indexOf('://');
  const authorityStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
  let pathStart = url.indexOf('/', authorityStart);
  if (pathStart < 0) pathStart = url.length;
  const authority = url.slice(authorityStart, pathStart);
  let end = url.length;
  const query = url.indexOf('?', pathStart);
  if (query >= 0) end = query;
  const hash = url.indexOf('#', pathStart);
  if (hash >= 0 && hash < end) end = hash;
  const path = url.slice(pathStart, end) || '/';
  const bracket = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  const hasPort = colon > bracket;
  const host = (hasPort ? authority.slice(0, colon) : authority).toLowerCase();
  const port = hasPort ? authority.slice(colon + 1) : url.startsWith('https') ? '443' : '80';
  return { path, host, port };
}

/**
 * The direct peer's address, as the adapter reported it. Adapters are the one place that
 * translate platform events (API Gateway's `requestContext`, a socket) into these facts.
 */
function sourceIpOf(ctx: FeatureContext): string | undefined {
  return ctx.sourceIp;
}

/** The auth stage and the state behind it (owned by one mesh). */
export class AuthStage implements Stage {
  readonly name = 'auth';
  readonly #auth: NormalizedAuth;
  readonly #events: AuthEvents;
  readonly #verifier: JwtVerifier | undefined;
  readonly #locations: Location[];
  readonly #required: boolean;
  readonly #evaluate: ((attributes: RequestAttributes) => Decision) | undefined;
  readonly #bundle: X509Certificate[];
  readonly #trustedProxy: (ip: string | undefined) => boolean;
  readonly #outputHeaders: string[];
  /**
   * Identities of certificates seen before, by PEM text: parsing and re-verifying an X.509
   * certificate costs tens of µs, and API Gateway sends the same client's PEM on every request.
   * Bounded; the oldest entry goes first. Only PEM strings are cached (a parsed certificate from
   * a TLS socket is already per-connection work the server did).
   */
  readonly #peerCache = new Map<string, { identity: PeerIdentity | undefined; validUntil: number }>();

  constructor(auth: NormalizedAuth, log: Logger, events: AuthEvents) {
    this.#auth = auth;
    this.#events = events;
    this.#verifier = auth.jwt.length > 0 ? new JwtVerifier(auth, log, events) : undefined;
    this.#locations = locationsOf(auth.jwt);
    this.#required = auth.jwt.some((rule) => rule.required);
    const spaceDelimited = new Set(auth.jwt.flatMap((rule) => rule.spaceDelimitedClaims));
    if (spaceDelimited.size === 0) for (const claim of ['scope', 'scp']) spaceDelimited.add(claim);
    this.#evaluate = auth.policies.length > 0 ? compilePolicies(auth.policies, spaceDelimited) : undefined;
    this.#bundle = auth.trustBundle.map((pem) => new (nodeBuiltin('node:crypto').X509Certificate)(pem));
    this.#trustedProxy = auth.trustedProxies.length > 0 ? ipMatcher(auth.trustedProxies) : () => false;
    this.#outputHeaders = [
      ...new Set(
        auth.jwt.flatMap((rule) => [
          ...rule.outputClaimToHeaders.map((output) => output.header),
          ...(rule.outputPayloadToHeader === undefined ? [] : [rule.outputPayloadToHeader]),
        ]),
      ),
    ];
  }

  /** Fetches keys. Never rejects. */
  init(): Promise<void> {
    return this.#verifier?.init() ?? Promise.resolve();
  }

  close(): void {
    this.#verifier?.close();
  }

  http(next: HttpNext): HttpNext {
    return (request, ctx) => this.#handle(request, ctx, next);
  }

  async #handle(request: Request, mesh: MeshContext, next: HttpNext): Promise<Response> {
    const ctx = invocationOf(mesh);
    let url: URL | undefined;
    const parsedUrl = () => {
      url ??= new URL(request.url);
      return url;
    };

    // 1. Peer identity.
    const peer = this.#peer(request, ctx);
    if (peer) ctx.peer = peer;
    if (this.#auth.mtlsMode === 'STRICT' && (ctx.peer === undefined || ctx.transport === 'plaintext')) {
      this.#refuse(ctx, 'mtls_required', 403, undefined);
      throw forbidden();
    }

    // 2. Token.
    let verified: VerifiedToken | undefined;
    let found: Found | undefined;
    if (this.#verifier) {
      const search = findToken(request, this.#locations, parsedUrl);
      if (search === 'ambiguous') {
        this.#refuse(ctx, 'multiple_tokens', 401, undefined);
        throw unauthenticated(challengeInvalid);
      }
      found = search;
      if (found === undefined) {
        if (this.#required) {
          this.#refuse(ctx, 'token_missing', 401, undefined);
          throw unauthenticated(challengeMissing);
        }
      } else {
        try {
          const pending = this.#verifier.verify(found.token, found.location.issuers);
          verified = pending instanceof Promise ? await pending : pending;
        } catch (error) {
          // Every failure is a 401, whatever threw (a TokenError, or anything a key or library
          // raised): an invalid token is never a 500 and never an allow.
          const reason = error instanceof TokenError ? error.reason : 'verification_error';
          this.#refuse(ctx, reason, 401, undefined);
          throw unauthenticated(challengeInvalid);
        }
        ctx.auth = verified.info;
      }
    }

    // 3. Policy, on the target's normalised path (policy-path.ts), never on a raw string.
    let normalized: URL | undefined;
    if (this.#evaluate) {
      const attributes = this.#attributes(request, ctx);
      if (attributes === undefined) {
        ctx.log.warn(
          { event: 'security', reason: 'path_not_evaluable', status: 400, ...this.#who(ctx) },
          'request refused',
        );
        throw badRequest('the request path cannot be evaluated (it holds %00)');
      }
      if (attributes.normalizedFrom !== undefined) {
        // The handler routes on the path the policy checked, as Istio forwards the normalised path.
        normalized = parsedUrl();
        normalized.pathname = attributes.path;
      }
      const decision = this.#evaluate(attributes);
      for (const policy of decision.audited) {
        ctx.log.info(
          { event: 'security', action: 'AUDIT', policy, ...this.#who(ctx) },
          'audit policy matched',
        );
      }
      if (!decision.allowed) {
        this.#refuse(ctx, 'policy_denied', 403, decision.policy ?? 'no-allow-policy-matched');
        throw forbidden();
      }
    }

    // 4. Rewrite the request for the handler.
    const rewritten = this.#rewrite(request, verified, found, normalized ?? url, normalized !== undefined);
    return next(rewritten, ctx);
  }

  #peer(request: Request, ctx: FeatureContext): PeerIdentity | undefined {
    const fact = ctx.peerCertificate;
    if (fact) {
      if (typeof fact.certificate !== 'string' || !fact.verified)
        return identityFromCertificate(fact, this.#bundle);
      const key = `${fact.source}\u0000${fact.certificate}`;
      const now = Date.now();
      const cached = this.#peerCache.get(key);
      if (cached !== undefined && cached.validUntil > now) return cached.identity;
      const checked = checkCertificate(fact, this.#bundle);
      if (this.#peerCache.size >= 256) this.#peerCache.delete(this.#peerCache.keys().next().value!);
      // A refusal is remembered for a minute; an identity until the certificate expires.
      this.#peerCache.set(key, {
        identity: checked?.identity,
        validUntil: checked?.validUntil ?? now + 60_000,
      });
      return checked?.identity;
    }
    if (this.#trustedProxy(sourceIpOf(ctx))) {
      const xfcc = request.headers.get('x-forwarded-client-cert');
      if (xfcc !== null) return identityFromXfcc(xfcc, this.#bundle);
    }
    return undefined;
  }

  /** What policies see; `undefined` when the path cannot be evaluated (the request is refused). */
  #attributes(
    request: Request,
    ctx: FeatureContext,
  ): (RequestAttributes & { normalizedFrom?: string }) | undefined {
    const { path: rawPath, host, port } = splitUrl(request.url);
    const path = policyPath(rawPath);
    if (path === undefined) return undefined;
    const direct = sourceIpOf(ctx);
    const sourceIp = direct === undefined ? undefined : normalizeIp(direct);
    const remoteIp = clientAddress(
      sourceIp,
      this.#trustedProxy(sourceIp) ? request.headers.get('x-forwarded-for') : undefined,
      this.#trustedProxy,
    );
    return {
      method: request.method,
      path,
      host,
      port,
      headers: request.headers,
      auth: ctx.auth,
      peer: ctx.peer,
      sourceIp,
      remoteIp,
      ...(path === rawPath ? {} : { normalizedFrom: rawPath }),
    };
  }

  #rewrite(
    request: Request,
    verified: VerifiedToken | undefined,
    found: Found | undefined,
    url: URL | undefined,
    urlChanged: boolean,
  ): Request {
    const outputs = this.#outputHeaders;
    const strip = verified !== undefined && found !== undefined && !verified.rule.forwardOriginalToken;
    if (outputs.length === 0 && !strip && !urlChanged) return request;
    let newUrl: URL | undefined = urlChanged ? url : undefined;
    if (strip && found!.location.kind === 'param') {
      newUrl = new URL(url ?? request.url);
      newUrl.searchParams.delete(found!.location.name);
    }
    return editRequest(
      request,
      (headers) => {
        // Incoming values of output headers are never trusted: a caller could forge them.
        for (const name of outputs) headers.delete(name);
        if (strip) {
          const location = found!.location;
          if (location.kind === 'header') headers.delete(location.name);
          if (location.kind === 'cookie') {
            const kept = (headers.get('cookie') ?? '')
              .split(';')
              .filter((part) => part.slice(0, part.indexOf('=')).trim() !== location.name)
              .join(';')
              .trim();
            if (kept === '') headers.delete('cookie');
            else headers.set('cookie', kept);
          }
        }
        if (verified) {
          for (const output of verified.rule.outputClaimToHeaders) {
            const value = headerValue(claimAt(verified.info.claims, output.claim));
            if (value !== undefined) headers.set(output.header, value);
          }
          if (verified.rule.outputPayloadToHeader !== undefined) {
            headers.set(verified.rule.outputPayloadToHeader, verified.payloadSegment);
          }
        }
      },
      newUrl,
    );
  }

  #who(ctx: FeatureContext): Record<string, string> {
    const who: Record<string, string> = {};
    if (ctx.auth) who.principal = ctx.auth.principal;
    if (ctx.peer) who.peer = ctx.peer.principal;
    const sourceIp = sourceIpOf(ctx);
    if (sourceIp) who.source_ip = sourceIp;
    return who;
  }

  /** The security event line for a refusal (never the token), and the metric hook. */
  #refuse(ctx: FeatureContext, reason: string, status: 401 | 403, policy: string | undefined): void {
    const fields: Record<string, unknown> = { event: 'security', reason, status, ...this.#who(ctx) };
    if (policy !== undefined) fields.policy = policy;
    ctx.log.warn(fields, status === 401 ? 'request unauthenticated' : 'request denied');
    this.#events.denied(reason, status, policy);
    ctx.telemetry?.authDenied(reason);
  }
}

/**
 * Builds the auth stage for a mesh and fetches its keys, so the first request does not pay.
 *
 * @example
 * ```ts no-check
 * const stage = await createAuthStage(host); // host: the mesh's FeatureHost
 * ```
 */
export async function createAuthStage(host: FeatureHost<NormalizedAuth>): Promise<Stage | undefined> {
  const auth = host.section;
  if (auth === undefined) return undefined;
  const stage = new AuthStage(auth, host.log, authEvents(host.service));
  host.onClose(() => stage.close());
  await stage.init();
  return stage;
}
