/**
 * A sampled span of the light tracer: the api's `Span` for the code that records it, and the
 * SDK's `ReadableSpan` shape (typed against it, so any span exporter can take it) once ended.
 * Limits follow the SDK's defaults: 128 attributes, events and links per span; the rest are
 * counted as dropped.
 */
import {
  type Attributes,
  type AttributeValue,
  type Exception,
  type HrTime,
  type Link,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  SpanStatusCode,
  type TimeInput,
} from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

const limit = 128;

/** The end time and duration of a span not yet ended (shared: never written to). */
const notEnded: HrTime = [0, 0];

/** The tracer's name and version, as the SDK's `InstrumentationScope`. */
export type InstrumentationScope = ReadableSpan['instrumentationScope'];

/** Wall-clock milliseconds with sub-millisecond precision. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

function toHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function timeToMs(time: TimeInput): number {
  if (typeof time === 'number') {
    // The api allows performance.now()-relative times as well as epoch milliseconds.
    return time < performance.timeOrigin ? performance.timeOrigin + time : time;
  }
  if (time instanceof Date) return time.getTime();
  return time[0] * 1000 + time[1] / 1e6;
}

const isValid = (key: string, value: AttributeValue | undefined): value is AttributeValue =>
  value !== undefined && value !== null && key.length > 0;

/** Where ended spans go. */
export interface SpanSink {
  onEnd(span: RecordedSpan): void;
}

export class RecordedSpan implements Span, ReadableSpan {
  name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext?: SpanContext;
  readonly attributes: Attributes = {};
  readonly links: Link[] = [];
  readonly events: TimedEvent[] = [];
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  startTime: HrTime;
  endTime: HrTime = notEnded;
  duration: HrTime = notEnded;
  ended = false;
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  readonly #context: SpanContext;
  readonly #startMs: number;
  #attributeCount = 0;
  readonly #sink: SpanSink;

  constructor(
    name: string,
    kind: SpanKind,
    context: SpanContext,
    parent: SpanContext | undefined,
    sink: SpanSink,
    resource: Resource,
    scope: InstrumentationScope,
    startTime: TimeInput | undefined,
  ) {
    this.name = name;
    this.kind = kind;
    this.#context = context;
    if (parent !== undefined) this.parentSpanContext = parent;
    this.#sink = sink;
    this.resource = resource;
    this.instrumentationScope = scope;
    this.#startMs = startTime === undefined ? nowMs() : timeToMs(startTime);
    this.startTime = toHrTime(this.#startMs);
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (this.ended || !isValid(key, value)) return this;
    if (this.attributes[key] === undefined) {
      if (this.#attributeCount >= limit) {
        this.droppedAttributesCount++;
        return this;
      }
      this.#attributeCount++;
    }
    this.attributes[key] = value;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) {
      const value = attributes[key];
      if (isValid(key, value)) this.setAttribute(key, value);
    }
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.ended) return this;
    if (this.events.length >= limit) {
      this.droppedEventsCount++;
      return this;
    }
    const isTime =
      typeof attributesOrTime === 'number' ||
      attributesOrTime instanceof Date ||
      Array.isArray(attributesOrTime);
    const attributes: Attributes = {};
    let count = 0;
    let dropped = 0;
    if (!isTime && attributesOrTime !== undefined) {
      const source = attributesOrTime as Attributes;
      for (const key in source) {
        const value = source[key];
        if (!isValid(key, value)) continue;
        if (count < limit) {
          attributes[key] = value;
          count++;
        } else dropped++;
      }
    }
    const at = isTime ? (attributesOrTime as TimeInput) : time;
    this.events.push({
      name,
      attributes,
      time: toHrTime(at === undefined ? nowMs() : timeToMs(at)),
      droppedAttributesCount: dropped,
    });
    return this;
  }

  addLink(link: Link): this {
    if (this.ended) return this;
    if (this.links.length >= limit) this.droppedLinksCount++;
    else this.links.push(link);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  setStatus(status: SpanStatus): this {
    // As in the SDK: UNSET changes nothing, OK is final, a message belongs to ERROR only.
    if (this.ended || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK)
      return this;
    this.status =
      status.code === SpanStatusCode.ERROR && status.message !== undefined
        ? { code: status.code, message: status.message }
        : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.ended) this.name = name;
    return this;
  }

  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    const endMs = endTime === undefined ? nowMs() : Math.max(timeToMs(endTime), this.#startMs);
    this.endTime = toHrTime(endMs);
    this.duration = toHrTime(endMs - this.#startMs);
    this.#sink.onEnd(this);
  }

  isRecording(): boolean {
    return !this.ended;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else {
      const type = exception.name ?? (exception.code === undefined ? undefined : String(exception.code));
      if (type !== undefined) attributes['exception.type'] = type;
      if (exception.message !== undefined) attributes['exception.message'] = exception.message;
      if (exception.stack !== undefined) attributes['exception.stacktrace'] = exception.stack;
    }
    this.addEvent('exception', attributes, time);
  }
}
