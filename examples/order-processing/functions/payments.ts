/**
 * `payments`: charges a card. Its policy lets only `orders` in, judged on the caller's mTLS
 * certificate: payments terminates the mesh's mTLS itself (platforms/payments-openfaas.ts), the
 * verified certificate's SPIFFE ID becomes `ctx.peer`, and an Istio-style `principals` rule
 * admits orders' identity alone. It honours the caller's deadline (`x-sidecarless-deadline-ms`),
 * and it is flaky on purpose for the demo's demo cards. Written once; deployed on OpenFaaS.
 */

import { auth } from '@sidecarless/auth';
import { createMesh, type HttpHandler, type MeshOptions } from '@sidecarless/core';
import { istio } from '@sidecarless/istio';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { telemetry } from '@sidecarless/telemetry';
import { meshPolicyFromEnv, telemetryFromEnv } from './environment.ts';

/** The options of the payments mesh, from the environment. */
export function paymentsOptions(env: NodeJS.ProcessEnv = process.env): MeshOptions {
  return {
    service: 'payments',
    // A chain of functions shares one budget: never work past the caller's deadline.
    invocation: { callerDeadline: true, safetyMargin: '20ms' },
    // Its policy is the namespace's, from deploy/mesh-policy.yaml: PeerAuthentication STRICT (a
    // request without a verified client certificate — the watchdog's plain-HTTP path, for one —
    // is refused before any policy is looked at) and AuthorizationPolicy only-orders-may-charge.
    istio: meshPolicyFromEnv(env),
    telemetry: telemetryFromEnv(env),
  };
}

/** Creates the payments mesh from the environment. */
export function createPaymentsMesh(env: NodeJS.ProcessEnv = process.env) {
  return createMesh(paymentsOptions(env), [telemetry, auth, outbound, http, traffic, istio]);
}

/**
 * Creates the payments handler. Attempts are counted per idempotency key, so a retried charge
 * is recognised; the counts live in the handler instance, one per process.
 *
 * Demo cards: `flaky` fails the first two attempts with 503, `down` always fails with 503,
 * `slow` never answers before the caller's deadline; any other card is charged.
 */
export function createPaymentsHandler(): HttpHandler {
  const attempts = new Map<string, number>();
  return async function charge(request, ctx) {
    if (request.method !== 'POST' || new URL(request.url).pathname !== '/charges') {
      return Response.json({ error: 'not found' }, { status: 404 });
    }
    const body = (await request.json().catch(() => null)) as { orderId?: string; card?: string } | null;
    const key = request.headers.get('idempotency-key') ?? body?.orderId ?? ctx.invocationId;
    const attempt = (attempts.get(key) ?? 0) + 1;
    attempts.set(key, attempt);
    const card = body?.card ?? '';
    if (card === 'down' || (card === 'flaky' && attempt <= 2)) {
      ctx.log.warn({ orderId: body?.orderId, attempt, card }, 'card processor unavailable');
      return Response.json({ error: 'card processor unavailable', attempt }, { status: 503 });
    }
    if (card === 'slow') {
      // The processor hangs. ctx.signal fires at the deadline the caller sent, so this
      // function stops when orders stops waiting, instead of holding a slot for exec_timeout.
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      ctx.log.warn(
        { orderId: body?.orderId, remainingMs: ctx.remainingTime() },
        "charge abandoned at the caller's deadline",
      );
      throw ctx.signal.reason;
    }
    ctx.log.info({ orderId: body?.orderId, attempt, caller: ctx.peer?.spiffeId }, 'card charged');
    return Response.json({ charged: true, attempt }, { status: 201 });
  };
}
