/**
 * Ordered streams: Kinesis Data Streams, DynamoDB Streams and Kafka (MSK or self-managed). One
 * handler call per record, in order within a shard (Kafka: a topic-partition); shards run side
 * by side up to `concurrency`. At a shard's first failure the rest of that shard does not run
 * — a later record must not overtake the one that failed — and the failed record and every one
 * after it in the shard are reported in `batchItemFailures` (turn on `ReportBatchItemFailures`
 * on the event source mapping): Lambda checkpoints before the first of them and delivers them
 * again. Other shards go on. Records not started before the safety margin are reported the same
 * way, so none is cut off mid-way when Lambda ends the invocation.
 */
import {
  type ConfigIssue,
  type EventHandler,
  type Mesh,
  type Trigger,
  traceContextOf,
} from '@sidecarless/core';
import { type InvocationFacts, prepareEvent } from '@sidecarless/core/adapter';
import { checkContext, factsOf, flushWithin, forMessage } from '../invocation.js';
import { checkWrapperOptions, isWarmupEvent, type LambdaWrapperOptions, throwIssues } from '../options.js';
import type {
  DynamoDbStreamEvent,
  DynamoDbStreamRecord,
  KafkaEvent,
  KafkaRecord,
  KinesisStreamEvent,
  KinesisStreamRecord,
  LambdaContext,
  LambdaRaw,
  StreamBatchResponse,
} from '../types.js';
import {
  arnName,
  batchAttributes,
  batchRunner,
  eachLimited,
  logRefused,
  notABatch,
  recordsOf,
} from './shared.js';

type TelemetryFacts = NonNullable<InvocationFacts['telemetry']>;
type TraceCarrier = NonNullable<TelemetryFacts['parent']>;
type Attributes = NonNullable<TelemetryFacts['attributes']>;

/** Options of `lambda.kinesis`, `lambda.dynamodb` and `lambda.kafka`. */
export interface StreamOptions extends LambdaWrapperOptions {
  /**
   * How many shards (Kafka: topic-partitions) run at once. Default 1. A shard's records always
   * run one after another, in order.
   */
  concurrency?: number;
}

/** What tells one stream source from another. */
interface StreamSource<Event, Record, Identifier> {
  readonly name: string;
  readonly trigger: Trigger;
  /** The records in delivery order; throws a 400 naming the expected shape. */
  records(event: unknown): readonly Record[];
  /** The ordering lane: the shard, or the Kafka topic-partition. */
  laneOf(record: Record): string;
  identifierOf(record: Record): Identifier;
  carrierOf(record: Record): TraceCarrier | undefined;
  attributesOf(record: Record): Attributes;
  /** Type-level only. */
  readonly event?: Event;
}

function streamWrapper<Event, Record, Identifier>(source: StreamSource<Event, Record, Identifier>) {
  return (
    mesh: Mesh,
    recordHandler: EventHandler<Record, unknown, LambdaRaw<Event>>,
    options: StreamOptions = {},
  ): ((event: unknown, context: LambdaContext) => Promise<StreamBatchResponse<Identifier> | undefined>) => {
    const where = `lambda.${source.name}`;
    const issues: ConfigIssue[] = [];
    const common = checkWrapperOptions(mesh, options, where, ['concurrency'], issues);
    const concurrency = options.concurrency ?? 1;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      issues.push({
        path: `${where}.concurrency`,
        message: 'must be a whole number of at least 1, for example 4',
      });
    }
    throwIssues(issues);
    const run = prepareEvent(mesh, recordHandler);
    const runBatch = batchRunner(mesh);

    return async function sidecarlessStreamHandler(event, context) {
      checkContext(context);
      if (isWarmupEvent(event, common.isWarmup)) return undefined;
      try {
        let records: readonly Record[];
        try {
          records = source.records(event);
        } catch (error) {
          logRefused(mesh, context.awsRequestId, error);
          throw error;
        }
        const facts = factsOf(event as Event, context, source.trigger, common.timing, {
          attributes: batchAttributes(source.attributesOf(records[0]!), records.length),
        });
        const stopAt = (facts.deadline ?? 0) - (facts.safetyMarginMs ?? 0);
        const lanes = new Map<string, Record[]>();
        for (const record of records) {
          const lane = source.laneOf(record);
          const list = lanes.get(lane);
          if (list) list.push(record);
          else lanes.set(lane, [record]);
        }
        return await runBatch(async (batch) => {
          const parent = traceContextOf(batch);
          const failed = new Set<Record>();
          await eachLimited([...lanes.values()], concurrency, async (lane) => {
            for (let index = 0; index < lane.length; index++) {
              const record = lane[index]!;
              let ok = Date.now() < stopAt;
              if (ok) {
                try {
                  // One span per record, a child of the batch's, linked to the context it was
                  // produced in (when it has one).
                  const attributes = source.attributesOf(record);
                  await run(record, forMessage(facts, source.carrierOf(record), attributes, { parent }));
                } catch {
                  ok = false; // logged once by the pipeline
                }
              }
              if (!ok) {
                for (const rest of lane.slice(index)) failed.add(rest);
                return;
              }
            }
          });
          // In the order Lambda gave them.
          const batchItemFailures = records
            .filter((record) => failed.has(record))
            .map((record) => ({ itemIdentifier: source.identifierOf(record) }));
          return { batchItemFailures };
        }, facts);
      } finally {
        await flushWithin(mesh, context);
      }
    };
  };
}

const isObject = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === 'object' && value !== null;

// --- Kinesis --------------------------------------------------------------------------------------

function isKinesisRecord(record: unknown): boolean {
  const kinesis = isObject(record) ? record.kinesis : undefined;
  return isObject(kinesis) && typeof kinesis.sequenceNumber === 'string' && typeof kinesis.data === 'string';
}

/** `shardId-000000000006:4954…` → the shard. */
function shardOf(eventId: unknown): string {
  if (typeof eventId !== 'string') return '';
  const colon = eventId.indexOf(':');
  return colon === -1 ? eventId : eventId.slice(0, colon);
}

/** Wraps a per-record Kinesis Data Streams handler; see the module comment for the ordering rules. */
export const kinesis = streamWrapper<KinesisStreamEvent, KinesisStreamRecord, string>({
  name: 'kinesis',
  trigger: 'pubsub',
  records: (event) => recordsOf<KinesisStreamRecord>(event, 'kinesis', isKinesisRecord),
  laneOf: (record) => `${record.eventSourceARN ?? ''}|${shardOf(record.eventID)}`,
  identifierOf: (record) => record.kinesis.sequenceNumber,
  carrierOf: () => undefined,
  attributesOf: (record) => {
    const attributes: Record<string, string> = { 'messaging.operation.type': 'process' };
    const stream = arnName(record.eventSourceARN, '/');
    if (stream !== undefined) {
      attributes['aws.kinesis.stream_name'] = stream;
      attributes['messaging.destination.name'] = stream;
    }
    const shard = shardOf(record.eventID);
    if (shard !== '') attributes['messaging.destination.partition.id'] = shard;
    return attributes;
  },
});

// --- DynamoDB Streams -----------------------------------------------------------------------------

function isDynamoDbRecord(record: unknown): boolean {
  const dynamodb = isObject(record) ? record.dynamodb : undefined;
  return isObject(dynamodb) && typeof dynamodb.SequenceNumber === 'string';
}

/** `arn:aws:dynamodb:…:table/orders/stream/2026-…` → `orders`. */
function tableOf(arn: unknown): string | undefined {
  if (typeof arn !== 'string') return undefined;
  const match = /:table\/([^/]+)/.exec(arn);
  return match?.[1];
}

/** Wraps a per-record DynamoDB Streams handler; see the module comment for the ordering rules. */
export const dynamodb = streamWrapper<DynamoDbStreamEvent, DynamoDbStreamRecord, string>({
  name: 'dynamodb',
  trigger: 'datasource',
  records: (event) => recordsOf<DynamoDbStreamRecord>(event, 'dynamodb', isDynamoDbRecord),
  // A batch comes from one shard; the stream ARN keeps two streams' records apart.
  laneOf: (record) => record.eventSourceARN ?? '',
  identifierOf: (record) => record.dynamodb.SequenceNumber,
  carrierOf: () => undefined,
  attributesOf: (record) => {
    const table = tableOf(record.eventSourceARN);
    return table === undefined ? {} : { 'aws.dynamodb.table_names': table };
  },
});

// --- Kafka ----------------------------------------------------------------------------------------

function isKafkaRecord(record: unknown): record is KafkaRecord {
  return (
    isObject(record) &&
    typeof record.topic === 'string' &&
    Number.isSafeInteger(record.partition) &&
    Number.isSafeInteger(record.offset)
  );
}

function kafkaRecords(event: unknown): readonly KafkaRecord[] {
  const groups = isObject(event) ? event.records : undefined;
  const all: KafkaRecord[] = [];
  if (isObject(groups)) {
    for (const name in groups) {
      const list = groups[name];
      if (!Array.isArray(list) || !list.every(isKafkaRecord)) {
        all.length = 0;
        break;
      }
      all.push(...list);
    }
  }
  if (all.length === 0) {
    throw notABatch(
      'kafka',
      'a Kafka event whose records map topic-partitions to non-empty lists of records',
    );
  }
  return all;
}

/** A Kafka header's value (an array of byte values) as text; undefined when it is not one. */
function kafkaHeader(record: KafkaRecord, name: string): string | undefined {
  for (const header of record.headers ?? []) {
    const bytes = header[name];
    if (Array.isArray(bytes) && bytes.every((byte) => Number.isInteger(byte) && byte >= 0 && byte <= 255)) {
      return Buffer.from(bytes).toString('latin1');
    }
  }
  return undefined;
}

/**
 * Wraps a per-record Kafka handler (MSK or self-managed); see the module comment for the ordering
 * rules. A record's `traceparent` header (W3C, as Kafka instrumentations write it) links its span.
 */
export const kafka = streamWrapper<KafkaEvent, KafkaRecord, { partition: string; offset: number }>({
  name: 'kafka',
  trigger: 'pubsub',
  records: kafkaRecords,
  laneOf: (record) => `${record.topic}-${record.partition}`,
  identifierOf: (record) => ({ partition: `${record.topic}-${record.partition}`, offset: record.offset }),
  carrierOf: (record) => {
    const traceparent = kafkaHeader(record, 'traceparent');
    if (traceparent === undefined) return undefined;
    const tracestate = kafkaHeader(record, 'tracestate');
    return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
  },
  attributesOf: (record) => ({
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': record.topic,
    'messaging.destination.partition.id': String(record.partition),
    'messaging.kafka.offset': record.offset,
  }),
});
