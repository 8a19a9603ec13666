import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'billing' });

// Needs FunctionResponseTypes: [ReportBatchItemFailures] on the event source mapping.
export const handler = lambda.sqs(
  mesh,
  async (record, ctx) => {
    const charge = JSON.parse(record.body) as { account: string; cents: number };
    if (charge.cents <= 0) throw new Error('nothing to charge'); // only this message comes back
    ctx.log.info({ account: charge.account }, 'charged');
  },
  { concurrency: 4 },
);
