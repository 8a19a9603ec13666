/**
 * `orders`: takes an order from an authenticated user, checks stock with `inventory` (mTLS),
 * charges it with `payments` (mTLS: payments' policy admits orders' certificate identity;
 * retries, breaker and the shared deadline apply), and announces it to `notifications` as a
 * CloudEvent (mTLS). With `REDIS_URL` set, each user may place `ORDERS_PER_USER_PER_MINUTE`
 * (default 20) requests a minute across every instance of orders: the limit lives in Redis.
 * Written once; deployed on AWS Lambda (platforms/orders-lambda.mjs).
 */
import { randomUUID } from 'node:crypto';
import { auth } from '@sidecarless/auth';
import { createMesh, type HttpHandler, type MeshOptions, SidecarlessError } from '@sidecarless/core';
import { istio } from '@sidecarless/istio';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { rateLimits } from '@sidecarless/ratelimit';
import { redis } from '@sidecarless/redis';
import { telemetry } from '@sidecarless/telemetry';
import { meshPolicyFromEnv, required, spiffe, telemetryFromEnv, tlsFilesFromEnv } from './environment.ts';

interface OrderInput {
  sku: string;
  quantity: number;
  card: string;
}

function parseOrder(value: unknown): OrderInput {
  const input = value as Partial<OrderInput> | null;
  const valid =
    typeof input?.sku === 'string' &&
    typeof input.card === 'string' &&
    Number.isInteger(input.quantity) &&
    (input.quantity ?? 0) >= 1;
  if (!valid) {
    throw new SidecarlessError(
      'SCL_ERR_BAD_ORDER',
      'an order needs "sku", "card" and a positive whole "quantity"',
      {
        status: 400,
        expose: true,
      },
    );
  }
  return input as OrderInput;
}

/** The options of the orders mesh, from the environment. */
export function ordersOptions(env: NodeJS.ProcessEnv = process.env): MeshOptions {
  const tls = tlsFilesFromEnv(env);
  // mTLS with the peer's SPIFFE ID checked, when this function has mesh certificates.
  const mutual = (identity: string) =>
    tls
      ? {
          tls: {
            mode: 'MUTUAL' as const,
            caCertificates: tls.ca,
            clientCertificate: tls.cert,
            privateKey: tls.key,
            subjectAltNames: [identity],
          },
        }
      : {};
  return {
    service: 'orders',
    invocation: { safetyMargin: '100ms' },
    // The policy is the namespace's, from deploy/mesh-policy.yaml: RequestAuthentication
    // orders-user-tokens (the issuer and its keys), AuthorizationPolicy shoppers-place-orders, and
    // payments' VirtualService and DestinationRule (retries, outlier detection). What the files
    // cannot say — where a Lambda function reaches each upstream, with which certificate — is the
    // function's own, added below.
    istio: {
      ...meshPolicyFromEnv(env),
      auth: {
        // The namespace's PeerAuthentication is STRICT, and API Gateway (which terminates the
        // caller's TLS) presents no client certificate to a Lambda function: orders authenticates
        // users by their tokens instead, which the files' policy requires.
        peerAuthentication: { mtls: { mode: 'PERMISSIVE' } },
      },
      upstreams: {
        inventory: {
          endpoints: required('INVENTORY_URL', env),
          timeout: '1s',
          retries: { attempts: 1, retryOn: 'connect-failure,reset' },
          ...mutual(spiffe.inventory),
        },
        payments: {
          // payments' own mTLS port, not the OpenFaaS gateway: no client certificate crosses the
          // gateway and the watchdog, and payments authorizes on the certificate (see README).
          endpoints: required('PAYMENTS_URL', env),
          // Kept back from the invocation deadline so orders can still answer its caller.
          deadlineMargin: '300ms',
          // The files give two attempts on 5xx; the pause between them and the breaker are orders' own.
          retries: { attempts: 2, retryOn: '5xx', backoff: { baseInterval: '20ms' } },
          circuitBreaker: { consecutiveFailures: 3, halfOpenAfter: '1500ms' },
          ...mutual(spiffe.payments),
        },
        notifications: {
          endpoints: required('NOTIFICATIONS_URL', env),
          timeout: '1s',
          ...mutual(spiffe.notifications),
        },
      },
    },
    telemetry: telemetryFromEnv(env),
    ...sharedLimits(env),
  };
}

/** A per-user limit shared by every instance, when there is a Redis to share it through. */
function sharedLimits(env: NodeJS.ProcessEnv): Pick<MeshOptions, 'redis' | 'rateLimits'> {
  const url = env.REDIS_URL;
  if (!url) return {};
  return {
    redis: { url, timeout: '50ms' },
    rateLimits: {
      limits: [
        {
          name: 'orders-per-user',
          descriptor: 'subject',
          requests: Number(env.ORDERS_PER_USER_PER_MINUTE ?? 20),
          per: 'minute',
          scope: 'shared',
        },
      ],
    },
  };
}

/** Creates the orders mesh from the environment. */
export function createOrdersMesh(env: NodeJS.ProcessEnv = process.env) {
  return createMesh(ordersOptions(env), [telemetry, auth, rateLimits, redis, outbound, http, traffic, istio]);
}

/** The orders handler: the same code on every platform. */
export const orders: HttpHandler = async (request, ctx) => {
  const url = new URL(request.url);
  if (request.method !== 'POST' || url.pathname !== '/orders') {
    return Response.json({ error: 'not found' }, { status: 404 });
  }
  const order = parseOrder(await request.json().catch(() => null));
  const orderId = `ord_${randomUUID().slice(0, 8)}`;

  const stock = await ctx.upstream('inventory').fetch(`/stock/${encodeURIComponent(order.sku)}`);
  const { available, servedBy } = (await stock.json()) as { available: number; servedBy?: string };
  if (available < order.quantity) {
    return Response.json({ orderId, error: 'out of stock', available }, { status: 409 });
  }

  let charge: Response;
  try {
    charge = await ctx.upstream('payments').fetch('/charges', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        // A POST is retried only when the upstream can deduplicate it.
        'idempotency-key': orderId,
      },
      body: JSON.stringify({ orderId, card: order.card, amountCents: 1_250 * order.quantity }),
    });
  } catch (error) {
    const code = error instanceof SidecarlessError ? error.code : 'unknown';
    ctx.log.warn({ orderId, code }, 'payment not made');
    const status = code === 'SCL_ERR_UPSTREAM_TIMEOUT' ? 504 : 503;
    return Response.json({ orderId, error: 'payment unavailable', code }, { status });
  }
  const payment = (await charge.json().catch(() => ({}))) as { attempt?: number };
  if (charge.status === 504) {
    // payments honoured the deadline this call carried and gave up: the chain is out of time.
    ctx.log.warn({ orderId, status: charge.status }, 'payment ran out of time');
    return Response.json({ orderId, error: 'payment timed out', paymentStatus: 504 }, { status: 504 });
  }
  if (!charge.ok) {
    ctx.log.warn({ orderId, status: charge.status }, 'payment failed');
    return Response.json({ orderId, error: 'payment failed', paymentStatus: charge.status }, { status: 503 });
  }

  // The CloudEvents adapter continues a trace from the event's `traceparent` extension, not
  // from the HTTP header the mesh client sets, so the extension is set here too.
  const spanContext = ctx.telemetry?.span?.spanContext();
  const announced = await ctx.upstream('notifications').fetch('/', {
    method: 'POST',
    headers: {
      ...(spanContext
        ? {
            'ce-traceparent': `00-${spanContext.traceId}-${spanContext.spanId}-0${spanContext.traceFlags & 1}`,
          }
        : {}),
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': orderId,
      'ce-type': 'com.example.order.created',
      'ce-source': '/shop/orders',
    },
    body: JSON.stringify({ orderId, sku: order.sku, quantity: order.quantity }),
  });
  ctx.log.info({ orderId, sku: order.sku, paymentAttempt: payment.attempt }, 'order placed');
  return Response.json(
    {
      orderId,
      user: ctx.auth?.claims.sub,
      stockCheckedBy: servedBy,
      paymentAttempts: payment.attempt,
      notified: announced.status === 202,
      traceId: ctx.telemetry?.span?.spanContext().traceId,
    },
    { status: 201 },
  );
};
