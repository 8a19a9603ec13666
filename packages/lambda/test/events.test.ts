import { createMesh, SidecarlessError } from '@sidecarless/core';
import { captureLogs, lambdaContext, lambdaEvent, resetColdStart } from '@sidecarless/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { type EventBridgeEvent, lambda, type SqsRecord } from '../src/index.js';

function quietMesh() {
  const logs = captureLogs();
  const mesh = createMesh({
    service: 'events-test',
    logging: { level: 'info', destination: logs.destination },
  });
  return { mesh, logs };
}

beforeEach(() => resetColdStart());

describe('lambda.sqs', () => {
  it('calls the handler once per record and reports only the failed ones', async () => {
    const { mesh, logs } = quietMesh();
    const sample = lambdaEvent<{ Records: SqsRecord[] }>('sqs.json');
    // The sample's records plus a copy of the first under a new id, which the handler refuses.
    const event = { Records: [...sample.Records, { ...sample.Records[0]!, messageId: 'poison-1' }] };
    const seen: string[] = [];
    const handler = lambda.sqs(mesh, async (record, ctx) => {
      seen.push(record.messageId);
      expect(ctx.trigger).toBe('pubsub');
      expect(ctx.raw.event).toBe(event);
      if (record.messageId === 'poison-1') throw new Error('poison');
    });
    const result = await handler(event, lambdaContext());
    expect(seen).toEqual(event.Records.map((record) => record.messageId));
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'poison-1' }] });
    expect(logs.withMessage('handler threw')).toHaveLength(1);
  });

  it('returns no failures when every record succeeds', async () => {
    const { mesh } = quietMesh();
    const handler = lambda.sqs(mesh, async () => {});
    expect(await handler(lambdaEvent('sqs.json'), lambdaContext())).toEqual({ batchItemFailures: [] });
  });

  it('stops a FIFO group at its first failure and reports the rest of that group', async () => {
    const { mesh } = quietMesh();
    const ran: string[] = [];
    const handler = lambda.sqs(
      mesh,
      async (record) => {
        ran.push(record.messageId);
        if ((JSON.parse(record.body) as { fail?: boolean }).fail) throw new Error('out of stock');
      },
      { concurrency: 2 },
    );
    const result = await handler(lambdaEvent('sqs-fifo.json'), lambdaContext());
    // g1 = m1, m2 (fails), m4 (not run); g2 = m3, m5 run in order.
    expect(ran).not.toContain('m4');
    expect(ran.filter((id) => id === 'm3' || id === 'm5')).toEqual(['m3', 'm5']);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }, { itemIdentifier: 'm4' }] });
  });

  it('never runs more records at once than the concurrency option', async () => {
    const { mesh } = quietMesh();
    const records = Array.from({ length: 10 }, (_, i) => ({ messageId: `id-${i}`, body: String(i) }));
    let running = 0;
    let peak = 0;
    const handler = lambda.sqs(
      mesh,
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running--;
      },
      { concurrency: 3 },
    );
    expect(await handler({ Records: records }, lambdaContext())).toEqual({ batchItemFailures: [] });
    expect(peak).toBe(3);
  });

  it('reports records it had no time to start as failed', async () => {
    const { mesh } = quietMesh();
    const ran: string[] = [];
    const handler = lambda.sqs(
      mesh,
      async (record) => {
        ran.push(record.messageId);
        await new Promise((resolve) => setTimeout(resolve, 60));
      },
      { safetyMargin: 100 },
    );
    const records = ['a', 'b', 'c'].map((id) => ({ messageId: id, body: '{}' }));
    const result = await handler({ Records: records }, lambdaContext({ remainingMs: 150 }));
    expect(ran).toEqual(['a']);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'b' }, { itemIdentifier: 'c' }] });
  });

  it('throws a clear error for an event that is not SQS', async () => {
    const { mesh } = quietMesh();
    const handler = lambda.sqs(mesh, async () => {});
    await expect(handler(lambdaEvent('sns.json'), lambdaContext())).rejects.toThrow(
      'lambda.sqs(): expected an SQS event with a non-empty Records array of SQS records',
    );
  });

  it('rejects a concurrency below 1 when wrapping', () => {
    const { mesh } = quietMesh();
    expect(() => lambda.sqs(mesh, async () => {}, { concurrency: 0 })).toThrow(/lambda\.sqs\.concurrency/);
  });
});

describe('lambda.sns', () => {
  it('hands the notification to the handler', async () => {
    const { mesh } = quietMesh();
    const messages: string[] = [];
    const handler = lambda.sns(mesh, async (notification, ctx) => {
      messages.push(notification.Message);
      expect(ctx.trigger).toBe('pubsub');
    });
    await handler(lambdaEvent('sns.json'), lambdaContext());
    const event = lambdaEvent<{ Records: { Sns: { Message: string } }[] }>('sns.json');
    expect(messages).toEqual([event.Records[0]!.Sns.Message]);
  });

  it('throws the handler error back to Lambda so SNS retries', async () => {
    const { mesh, logs } = quietMesh();
    const handler = lambda.sns(mesh, async () => {
      throw new SidecarlessError('SCL_ERR_DOWNSTREAM', 'mailer down', { status: 503 });
    });
    await expect(handler(lambdaEvent('sns.json'), lambdaContext())).rejects.toThrow('mailer down');
    expect(logs.withMessage('invocation failed')).toHaveLength(1);
  });
});

describe('lambda.eventbridge', () => {
  it('hands the event over with its object detail', async () => {
    const { mesh } = quietMesh();
    const seen: EventBridgeEvent[] = [];
    const handler = lambda.eventbridge(mesh, async (event, ctx) => {
      seen.push(event);
      expect(ctx.trigger).toBe('pubsub');
      return 'done';
    });
    expect(await handler(lambdaEvent('eventbridge.json'), lambdaContext())).toBe('done');
    expect(seen[0]!.detail).toEqual(lambdaEvent<{ detail: unknown }>('eventbridge.json').detail);
  });

  it('parses a detail given as a JSON string and marks schedules as timers', async () => {
    const { mesh } = quietMesh();
    const handler = lambda.eventbridge(mesh, async (event, ctx) => ({
      detail: event.detail,
      trigger: ctx.trigger,
    }));
    expect(await handler(lambdaEvent('eventbridge-scheduler.json'), lambdaContext())).toEqual({
      detail: {},
      trigger: 'timer',
    });
  });

  it('refuses a detail string that is not JSON', async () => {
    const { mesh } = quietMesh();
    let ran = false;
    const handler = lambda.eventbridge(mesh, async () => {
      ran = true;
    });
    const event = { ...lambdaEvent('eventbridge-scheduler.json'), detail: '{oops' };
    await expect(handler(event, lambdaContext())).rejects.toThrow('detail is a string that is not JSON');
    expect(ran).toBe(false);
  });
});

describe('lambda.s3', () => {
  it('hands each record over with the key decoded', async () => {
    const { mesh } = quietMesh();
    const keys: string[] = [];
    const handler = lambda.s3(mesh, async (record, ctx) => {
      keys.push(record.decodedKey);
      expect(ctx.trigger).toBe('datasource');
    });
    await handler(lambdaEvent('s3.json'), lambdaContext());
    const event = lambdaEvent<{ Records: { s3: { object: { key: string } } }[] }>('s3.json');
    expect(keys).toEqual(
      event.Records.map((record) => decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '))),
    );
    const spaced = {
      Records: [
        {
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'b' }, object: { key: 'my+file%C3%A9.txt' } },
        },
      ],
    };
    keys.length = 0;
    await handler(spaced, lambdaContext());
    expect(keys).toEqual(['my fileé.txt']);
  });
});

describe('event sources given the wrong event', () => {
  it('refuse it with an error naming what was expected, without running the handler', async () => {
    const { mesh, logs } = quietMesh();
    let ran = 0;
    const count = async () => {
      ran++;
    };
    await expect(lambda.sns(mesh, count)(lambdaEvent('sqs.json'), lambdaContext())).rejects.toThrow(
      'lambda.sns(): expected an SNS event',
    );
    await expect(lambda.s3(mesh, count)(lambdaEvent('sns.json'), lambdaContext())).rejects.toThrow(
      'lambda.s3(): expected an S3 event',
    );
    await expect(lambda.eventbridge(mesh, count)({ Records: [] }, lambdaContext())).rejects.toThrow(
      'expected an EventBridge event with source, detail-type and detail',
    );
    expect(ran).toBe(0);
    expect(logs.withMessage('event refused')).toHaveLength(3);
  });
});

describe('lambda.event', () => {
  it('passes any event through and returns the handler result', async () => {
    const { mesh } = quietMesh();
    const handler = lambda.event<{ sku: string }, { price: number }>(mesh, async (event, ctx) => {
      expect(ctx.trigger).toBe('other');
      return { price: event.sku.length };
    });
    expect(await handler({ sku: 'abc' }, lambdaContext())).toEqual({ price: 3 });
  });

  it('accepts the WebSocket sample', async () => {
    const { mesh } = quietMesh();
    const handler = lambda.event(mesh, async (event: { requestContext: { eventType: string } }) => ({
      statusCode: 200,
      body: event.requestContext.eventType,
    }));
    expect(await handler(lambdaEvent('apigw-websocket.json'), lambdaContext())).toEqual({
      statusCode: 200,
      body: 'CONNECT',
    });
  });
});

describe('warm-up pings', () => {
  it('are answered without running the handler or using up the cold start', async () => {
    const { mesh } = quietMesh();
    const colds: boolean[] = [];
    const http = lambda(mesh, async (_request, ctx) => {
      colds.push(ctx.coldStart);
      return new Response('ok');
    });
    const sqs = lambda.sqs(mesh, async () => {
      colds.push(false);
    });
    const warmup = { source: 'serverless-plugin-warmup' };
    expect(await http(warmup, lambdaContext())).toMatchObject({ statusCode: 200 });
    expect(await sqs(warmup, lambdaContext())).toBeUndefined();
    expect(colds).toEqual([]);
    await http(lambdaEvent('apigw-http-v2.json'), lambdaContext());
    expect(colds).toEqual([true]);
  });

  it('are recognised by a configured predicate', async () => {
    const { mesh } = quietMesh();
    let ran = false;
    const handler = lambda.event(
      mesh,
      async () => {
        ran = true;
      },
      { isWarmup: (event) => (event as { warmer?: boolean }).warmer === true },
    );
    await handler({ warmer: true }, lambdaContext());
    expect(ran).toBe(false);
    await handler({ warmer: false }, lambdaContext());
    expect(ran).toBe(true);
  });
});
