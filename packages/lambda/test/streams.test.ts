/**
 * `lambda.kinesis`, `lambda.dynamodb` and `lambda.kafka`: ordered shards, partial batch failures,
 * the safety margin, per-record spans and links. Events built here in the shapes Lambda delivers
 * (AWS's sample events for each source); spans exported to a real OTLP/HTTP receiver on loopback.
 */
import { createMesh, type Mesh, type Stage } from '@sidecarless/core';
import { telemetry } from '@sidecarless/telemetry';
import {
  captureLogs,
  lambdaContext,
  type OtlpReceiver,
  OtlpSpanKind,
  resetColdStart,
  startOtlpReceiver,
} from '@sidecarless/testing';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lambda } from '../src/index.js';

const streamArn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/orders';
const tableStream = 'arn:aws:dynamodb:eu-west-1:123456789012:table/orders/stream/2026-12-03T00:00:00.000';

function kinesisRecord(shard: string, sequence: string, text: string) {
  return {
    kinesis: {
      kinesisSchemaVersion: '1.0',
      partitionKey: 'pk',
      sequenceNumber: sequence,
      data: Buffer.from(text).toString('base64'),
      approximateArrivalTimestamp: 1_796_300_000.5,
    },
    eventSource: 'aws:kinesis',
    eventVersion: '1.0',
    eventID: `${shard}:${sequence}`,
    eventName: 'aws:kinesis:record',
    invokeIdentityArn: 'arn:aws:iam::123456789012:role/lambda-role',
    awsRegion: 'eu-west-1',
    eventSourceARN: streamArn,
  };
}

function dynamoRecord(sequence: string, id: string) {
  return {
    eventID: `e-${sequence}`,
    eventName: 'INSERT',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    dynamodb: {
      ApproximateCreationDateTime: 1_796_300_000,
      Keys: { id: { S: id } },
      NewImage: { id: { S: id } },
      SequenceNumber: sequence,
      SizeBytes: 26,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
    eventSourceARN: tableStream,
  };
}

const bytes = (text: string) => [...Buffer.from(text)];

function kafkaRecord(topic: string, partition: number, offset: number, headers: Record<string, string> = {}) {
  return {
    topic,
    partition,
    offset,
    timestamp: 1_796_300_000_000,
    timestampType: 'CREATE_TIME',
    key: Buffer.from(`k${offset}`).toString('base64'),
    value: Buffer.from(`{"n":${offset}}`).toString('base64'),
    headers: Object.entries(headers).map(([name, value]) => ({ [name]: bytes(value) })),
  };
}

let receiver: OtlpReceiver;
const meshes: Mesh[] = [];
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.close());
beforeEach(() => {
  resetColdStart();
  receiver.spans.length = 0;
});
afterEach(async () => {
  await Promise.all(meshes.splice(0).map((mesh) => mesh.close()));
});

function tracedMesh(): Mesh {
  const mesh = createMesh(
    {
      service: 'orders',
      logging: { destination: captureLogs().destination },
      telemetry: { tracing: { exporter: 'otlp', endpoint: receiver.url } },
    },
    [telemetry],
  );
  meshes.push(mesh);
  return mesh;
}

describe('lambda.kinesis', () => {
  it('stops a shard at its first failure and reports it and every later record of the shard', async () => {
    const ran: string[] = [];
    const handler = lambda.kinesis(tracedMesh(), async (record) => {
      const text = Buffer.from(record.kinesis.data, 'base64').toString();
      ran.push(text);
      if (text === 'b') throw new Error('cannot process b');
    });
    const records = [
      kinesisRecord('shardId-000000000001', '101', 'a'),
      kinesisRecord('shardId-000000000001', '102', 'b'),
      kinesisRecord('shardId-000000000001', '103', 'c'),
    ];
    const result = await handler({ Records: records }, lambdaContext());
    expect(ran).toEqual(['a', 'b']);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '102' }, { itemIdentifier: '103' }] });
  });

  it('keeps other shards going, in order within each, up to the concurrency', async () => {
    const ran: string[] = [];
    let inFlight = 0;
    let most = 0;
    const handler = lambda.kinesis(
      tracedMesh(),
      async (record) => {
        inFlight++;
        most = Math.max(most, inFlight);
        const text = Buffer.from(record.kinesis.data, 'base64').toString();
        await new Promise((resolve) => setTimeout(resolve, 5));
        ran.push(text);
        inFlight--;
        if (text === 'a1') throw new Error('fails');
      },
      { concurrency: 2 },
    );
    const records = [
      kinesisRecord('shardId-A', '1', 'a1'),
      kinesisRecord('shardId-B', '2', 'b1'),
      kinesisRecord('shardId-A', '3', 'a2'),
      kinesisRecord('shardId-B', '4', 'b2'),
    ];
    const result = await handler({ Records: records }, lambdaContext());
    expect(most).toBe(2);
    expect(ran.filter((text) => text.startsWith('b'))).toEqual(['b1', 'b2']);
    expect(ran).not.toContain('a2');
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '1' }, { itemIdentifier: '3' }] });
  });

  it('reports the records not started before the safety margin, without running them', async () => {
    const ran: string[] = [];
    const handler = lambda.kinesis(
      tracedMesh(),
      async (record) => {
        ran.push(record.kinesis.sequenceNumber);
        await new Promise((resolve) => setTimeout(resolve, 60));
      },
      { safetyMargin: 100 },
    );
    const records = ['1', '2', '3'].map((sequence) => kinesisRecord('shardId-1', sequence, sequence));
    const result = await handler({ Records: records }, lambdaContext({ remainingMs: 150 }));
    expect(ran).toEqual(['1']);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '2' }, { itemIdentifier: '3' }] });
  });

  it('exports one CONSUMER span per record with the stream and shard', async () => {
    const handler = lambda.kinesis(tracedMesh(), async () => undefined);
    expect(await handler({ Records: [kinesisRecord('shardId-7', '9', 'x')] }, lambdaContext())).toEqual({
      batchItemFailures: [],
    });
    // The record's span, then the batch invocation's (its parent).
    expect(receiver.spans).toHaveLength(2);
    const [record, batch] = receiver.spans;
    expect(record!.kind).toBe(OtlpSpanKind.consumer);
    expect(record!.name).toBe('process orders');
    expect(record!.parentSpanId).toBe(batch!.spanId);
    expect(record!.attributes).toMatchObject({
      'faas.trigger': 'pubsub',
      'aws.kinesis.stream_name': 'orders',
      'messaging.destination.partition.id': 'shardId-7',
    });
    expect(batch!).toMatchObject({ kind: OtlpSpanKind.consumer, name: 'test-function' });
    expect(batch!.attributes['messaging.batch.message_count']).toBe(1);
  });

  it('refuses an event that is not a Kinesis batch with a clear error', async () => {
    const handler = lambda.kinesis(tracedMesh(), async () => undefined);
    await expect(handler({ Records: [{ body: 'sqs?' }] }, lambdaContext())).rejects.toThrow(
      'lambda.kinesis(): expected a Kinesis event with a non-empty Records array of Kinesis records',
    );
  });
});

describe('lambda.dynamodb', () => {
  it('runs in order, stops at the first failure and reports the rest by sequence number', async () => {
    const ran: string[] = [];
    const handler = lambda.dynamodb(tracedMesh(), async (record) => {
      ran.push(record.dynamodb.SequenceNumber);
      if (record.dynamodb.SequenceNumber === '200') throw new Error('conflict');
    });
    const records = ['100', '200', '300'].map((sequence, index) => dynamoRecord(sequence, `o${index}`));
    const result = await handler({ Records: records }, lambdaContext());
    expect(ran).toEqual(['100', '200']);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '200' }, { itemIdentifier: '300' }] });
    // A data-source trigger: SERVER spans, as the FaaS conventions give it, with the table.
    // Two records' spans and the batch's.
    expect(receiver.spans.map((span) => [span.kind, span.attributes['faas.trigger']])).toEqual([
      [OtlpSpanKind.server, 'datasource'],
      [OtlpSpanKind.server, 'datasource'],
      [OtlpSpanKind.server, 'datasource'],
    ]);
    expect(receiver.spans[0]!.attributes['aws.dynamodb.table_names']).toBe('orders');
  });
});

describe('lambda.kafka', () => {
  it('orders each topic-partition on its own and reports { partition, offset } for the failed rest', async () => {
    const ran: string[] = [];
    const handler = lambda.kafka(tracedMesh(), async (record) => {
      ran.push(`${record.partition}@${record.offset}`);
      if (record.partition === 0 && record.offset === 11) throw new Error('bad record');
    });
    const event = {
      eventSource: 'aws:kafka',
      eventSourceArn: 'arn:aws:kafka:eu-west-1:123456789012:cluster/shop/abc',
      bootstrapServers: 'b-1.shop.kafka.eu-west-1.amazonaws.com:9098',
      records: {
        'orders-0': [
          kafkaRecord('orders', 0, 10),
          kafkaRecord('orders', 0, 11),
          kafkaRecord('orders', 0, 12),
        ],
        'orders-1': [kafkaRecord('orders', 1, 5), kafkaRecord('orders', 1, 6)],
      },
    };
    const result = await handler(event, lambdaContext());
    expect(ran).toEqual(['0@10', '0@11', '1@5', '1@6']);
    expect(result).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: 'orders-0', offset: 11 } },
        { itemIdentifier: { partition: 'orders-0', offset: 12 } },
      ],
    });
  });

  it("links a record's span to its traceparent header and names the topic and partition", async () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const handler = lambda.kafka(tracedMesh(), async () => undefined);
    await handler(
      {
        eventSource: 'SelfManagedKafka',
        records: { 'orders-3': [kafkaRecord('orders', 3, 42, { traceparent })] },
      },
      lambdaContext(),
    );
    const span = receiver.spans[0]!;
    expect(span.kind).toBe(OtlpSpanKind.consumer);
    expect(span.links).toEqual([{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' }]);
    expect(span.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': 'orders',
      'messaging.destination.partition.id': '3',
      'messaging.kafka.offset': 42,
      'messaging.operation.type': 'process',
    });
  });

  it('refuses an event without topic-partition record lists', async () => {
    const handler = lambda.kafka(tracedMesh(), async () => undefined);
    for (const event of [{ records: {} }, { records: { 'orders-0': [{ offset: 'x' }] } }, { Records: [] }]) {
      await expect(handler(event, lambdaContext())).rejects.toThrow(
        /lambda\.kafka\(\): expected a Kafka event/,
      );
    }
  });
});

describe('a batch is one invocation', () => {
  it('one EMF invocation record per batch, and the user middleware runs once per record', async () => {
    const logs = captureLogs();
    let middlewareRuns = 0;
    const counting: Stage = {
      name: 'counting',
      event: (next) => async (event, ctx) => {
        middlewareRuns++;
        return next(event, ctx);
      },
    };
    const mesh = createMesh(
      {
        service: 'orders',
        logging: { destination: logs.destination },
        middleware: [counting],
        telemetry: { metrics: { exporter: 'emf', namespace: 'Orders' } },
      },
      [telemetry],
    );
    meshes.push(mesh);
    const sqsRecords = ['m1', 'm2', 'm3'].map((id) => ({
      messageId: id,
      body: '{}',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:1:q',
    }));
    await lambda.sqs(mesh, async () => undefined)({ Records: sqsRecords }, lambdaContext());
    const kinesisRecords = ['1', '2'].map((sequence) => kinesisRecord('shardId-1', sequence, 'x'));
    await lambda.kinesis(mesh, async () => undefined)({ Records: kinesisRecords }, lambdaContext());
    const emf = logs.lines().filter((line) => line.serverless_function_invocations_total === 1);
    expect(emf).toHaveLength(2);
    expect(middlewareRuns).toBe(5);
  });
});
