// A Lambda function on the mesh, as a user writes it: JWT auth with a scope policy, tracing to an
// OTLP collector, EMF metrics, one log line; an SQS worker; and exports that fail on purpose.
import { auth } from '@sidecarless/auth';
import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';
import { telemetry } from '@sidecarless/telemetry';

const mesh = createMesh(
  {
    service: 'orders',
    auth: {
      jwt: [
        {
          issuer: 'https://id.shop.test',
          jwksUri: process.env.JWKS_URI!,
          audiences: ['orders'],
          required: true,
        },
      ],
      policies: [
        {
          action: 'ALLOW',
          rules: [
            {
              to: [{ operation: { methods: ['POST'], paths: ['/orders'] } }],
              when: [{ key: 'request.auth.claims[scope]', values: ['orders:write'] }],
            },
          ],
        },
      ],
    },
    telemetry: { tracing: { exporter: 'otlp', endpoint: process.env.OTLP_TRACES_ENDPOINT! }, metrics: true },
  },
  [auth, telemetry],
);

interface Order {
  sku: string;
  qty: number;
}

export const handler = lambda(mesh, async (request, ctx) => {
  const order = (await request.json()) as Order;
  ctx.log.info({ sku: order.sku, user: ctx.auth?.claims.sub }, 'order accepted');
  return Response.json({ sku: order.sku, user: ctx.auth?.claims.sub }, { status: 201 });
});

export const worker = lambda.sqs(mesh, async (record, ctx) => {
  const order = JSON.parse(record.body) as Order;
  if (order.sku === 'pen-7') throw new Error('pen-7 is out of stock');
  ctx.log.info({ sku: order.sku }, 'order fulfilled');
});

export const context = lambda.event(mesh, async (_event, ctx) => {
  const context = ctx.raw.context;
  return {
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    remaining: context.getRemainingTimeInMillis(),
    xray: ctx.raw.xrayTraceId,
    region: process.env.AWS_REGION,
  };
});

export const broken = lambda(mesh, async () => {
  throw new Error('the database is on fire');
});

export const thrown = async () => {
  throw new TypeError('not wrapped, and it throws');
};

export const settings = { retries: 3 };
