/**
 * The application's own metrics: a `MeterProvider` behind `@opentelemetry/api`'s `metrics`
 * global whose instruments record into plain numbers on the mesh, exported with the mesh's own
 * metrics (Prometheus text, or the invocation's EMF line on Lambda).
 *
 * Not the OpenTelemetry metrics SDK: importing `@opentelemetry/sdk-metrics` costs 40–55 ms from
 * node_modules and several ms bundled, against well under 1 ms for this module
 * (bench/app-metrics.bench.ts); and a recording here is one attribute-key join and one map lookup.
 * It is held to the SDK by test/app-metrics-parity.test.ts: the same recordings through the SDK
 * with `@opentelemetry/exporter-prometheus` and through this give the same series and values —
 * names (`_total` on monotonic sums), label sanitising, `otel_scope_name`/`otel_scope_version`,
 * default and advised histogram buckets, the cardinality limit and its overflow series.
 *
 * This module imports only types from `@opentelemetry/api`: it costs nothing of the API's own.
 */
import type {
  Attributes,
  AttributeValue,
  BatchObservableCallback,
  BatchObservableResult,
  Counter,
  Gauge,
  Histogram,
  Meter,
  MeterOptions,
  MeterProvider,
  MetricAdvice,
  MetricOptions,
  Observable,
  ObservableCallback,
  ObservableCounter,
  ObservableGauge,
  ObservableResult,
  ObservableUpDownCounter,
  UpDownCounter,
} from '@opentelemetry/api';

/** The SDK's default explicit bucket boundaries (sdk-metrics `ExplicitBucketHistogramAggregation`). */
export const defaultHistogramBoundaries: readonly number[] = [
  0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000,
];

/** The OTel SDK's default cardinality limit per instrument (the overflow series included). */
export const defaultCardinalityLimit = 2000;

/** `ValueType.INT` of `@opentelemetry/api` (a runtime enum this module does not import). */
const INT_VALUE_TYPE = 0;

type InstrumentKind =
  | 'counter'
  | 'updowncounter'
  | 'histogram'
  | 'gauge'
  | 'observablecounter'
  | 'observableupdowncounter'
  | 'observablegauge';

/** How an instrument aggregates: a sum (monotonic or not), the last value, or a histogram. */
type Aggregation = 'monotonic' | 'sum' | 'last' | 'histogram';

const aggregationOf: Record<InstrumentKind, Aggregation> = {
  counter: 'monotonic',
  observablecounter: 'monotonic',
  updowncounter: 'sum',
  observableupdowncounter: 'sum',
  gauge: 'last',
  observablegauge: 'last',
  histogram: 'histogram',
};

/** The attributes marking the series that holds recordings past the cardinality limit (OTel spec). */
const overflowAttributes: Attributes = { 'otel.metric.overflow': true };
/** EMF carries at most 100 values per metric in one line (CloudWatch's limit). */
const emfMaxValues = 100;

/** One attribute set of one instrument. */
export class Series {
  /** A copy of the attributes first recorded with this set (nullish values left out). */
  readonly attributes: Attributes;
  /** The sum (counters) or last value (gauges); for histograms, the sum of the values. */
  value = 0;
  count = 0;
  /** Histograms: per-bucket (non-cumulative) counts; the last slot is `+Inf`. */
  readonly buckets: Float64Array | undefined;
  /** EMF: what this invocation added (counters) or the values it recorded (histograms). */
  pendingDelta = 0;
  pendingValues: number[] | undefined;
  touched = false;
  /** EMF: the dimensions (sorted keys, JSON values) and their key list, made on first use. */
  emfDimensions: readonly (readonly [string, string])[] | undefined;
  emfDimensionKeys: string | undefined;

  constructor(attributes: Attributes, bucketCount: number | undefined) {
    this.attributes = attributes;
    this.buckets = bucketCount === undefined ? undefined : new Float64Array(bucketCount + 1);
  }
}

/** What the meters need from the mesh: its warnings, and whether EMF tracks each invocation. */
export interface ApplicationMetricsOptions {
  /** Per instrument, attribute sets past which recordings go to the overflow series. */
  readonly cardinalityLimit: number;
  /** Keep what each invocation recorded, for its EMF line. */
  readonly perInvocation: boolean;
  readonly warn: (fields: Record<string, unknown>, message: string) => void;
}

/** The scope a meter was obtained with (`metrics.getMeter(name, version, { schemaUrl })`). */
export interface MeterScope {
  readonly name: string;
  readonly version: string | undefined;
  readonly schemaUrl: string | undefined;
}

/** The recordings of one instrument. */
export class InstrumentStorage {
  readonly name: string;
  readonly kind: InstrumentKind;
  readonly aggregation: Aggregation;
  readonly description: string;
  readonly unit: string;
  readonly integer: boolean;
  readonly scope: MeterScope;
  /** Histograms: the upper bounds (`le`), ascending. */
  readonly boundaries: readonly number[] | undefined;
  readonly series = new Map<string, Series>();
  readonly #metrics: ApplicationMetrics;
  /** Real attribute sets allowed: the limit less the overflow series (as the SDK counts). */
  readonly #room: number;
  #overflow: Series | undefined;
  #noAttributes: Series | undefined;
  #warned = false;
  /** EMF: this instrument's entry in a directive's `Metrics`, made on first use. */
  emfMetric: string | undefined;
  /** Observable instruments: their callbacks. */
  readonly callbacks: ObservableCallback[] = [];

  constructor(
    metrics: ApplicationMetrics,
    scope: MeterScope,
    name: string,
    kind: InstrumentKind,
    options: MetricOptions | undefined,
  ) {
    this.#metrics = metrics;
    this.scope = scope;
    this.name = name;
    this.kind = kind;
    this.aggregation = aggregationOf[kind];
    this.description = options?.description ?? '';
    this.unit = options?.unit ?? '';
    this.integer = (options?.valueType as number | undefined) === INT_VALUE_TYPE;
    this.boundaries =
      this.aggregation === 'histogram' ? boundariesOf(options?.advice, name, metrics) : undefined;
    this.#room = Math.max(metrics.cardinalityLimit - 1, 0);
  }

  /** The series for these attributes, created on first use; the overflow series past the limit. */
  seriesFor(attributes: Attributes | undefined): Series {
    if (attributes === undefined) {
      this.#noAttributes ??= this.series.get('') ?? this.#create('', {});
      return this.#noAttributes;
    }
    const key = attributeKey(attributes);
    const found = this.series.get(key);
    if (found !== undefined) return found;
    return this.#create(key, attributes);
  }

  #create(key: string, attributes: Attributes): Series {
    // The overflow series is in the map too, so once it exists every new set keeps going there.
    if (this.series.size >= this.#room) return this.#overflowed();
    const series = new Series(copyAttributes(attributes), this.boundaries?.length);
    this.series.set(key, series);
    return series;
  }

  #overflowed(): Series {
    this.#metrics.countOverflow(this.name);
    if (!this.#warned) {
      this.#warned = true;
      this.#metrics.warn(
        { instrument: this.name, cardinalityLimit: this.#metrics.cardinalityLimit },
        'metric instrument reached its cardinality limit: new attribute sets are recorded into its otel.metric.overflow="true" series; raise telemetry.metrics.cardinalityLimit or record fewer distinct attribute values',
      );
    }
    if (this.#overflow === undefined) {
      this.#overflow = new Series(overflowAttributes, this.boundaries?.length);
      this.series.set('\u0003overflow', this.#overflow);
    }
    return this.#overflow;
  }

  /** Checks a value as the SDK does; undefined when it must be dropped. */
  checked(value: number): number | undefined {
    if (typeof value !== 'number') {
      this.#metrics.warnOnce(this, 'non-number value', `non-number value recorded to ${this.name}; dropped`);
      return undefined;
    }
    if (this.integer && !Number.isInteger(value)) {
      const truncated = Math.trunc(value);
      return Number.isInteger(truncated) ? truncated : undefined;
    }
    return value;
  }

  add(value: number, attributes: Attributes | undefined): void {
    const checked = this.checked(value);
    if (checked === undefined) return;
    if (this.aggregation === 'monotonic' && checked < 0) {
      this.#metrics.warnOnce(this, 'negative', `negative value added to counter ${this.name}; dropped`);
      return;
    }
    const series = this.seriesFor(attributes);
    series.value += checked;
    series.count++;
    if (this.#metrics.perInvocation) {
      series.pendingDelta += checked;
      this.#metrics.touch(this, series);
    }
  }

  set(value: number, attributes: Attributes | undefined): void {
    const checked = this.checked(value);
    if (checked === undefined) return;
    const series = this.seriesFor(attributes);
    series.value = checked;
    series.count++;
    if (this.#metrics.perInvocation) this.#metrics.touch(this, series);
  }

  record(value: number, attributes: Attributes | undefined): void {
    const checked = this.checked(value);
    if (checked === undefined) return;
    if (checked < 0) {
      this.#metrics.warnOnce(this, 'negative', `negative value recorded to histogram ${this.name}; dropped`);
      return;
    }
    const series = this.seriesFor(attributes);
    series.value += checked;
    series.count++;
    const bounds = this.boundaries!;
    let bucket = 0;
    while (bucket < bounds.length && checked > bounds[bucket]!) bucket++;
    series.buckets![bucket]!++;
    if (this.#metrics.perInvocation) {
      series.pendingValues ??= [];
      if (series.pendingValues.length < emfMaxValues) series.pendingValues.push(checked);
      this.#metrics.touch(this, series);
    }
  }

  /** An observable's callback reported this value (cumulative for observable counters). */
  observed(value: number, attributes: Attributes | undefined): void {
    const checked = this.checked(value);
    if (checked === undefined) return;
    const series = this.seriesFor(attributes);
    if (this.#metrics.perInvocation && this.aggregation === 'monotonic')
      series.pendingDelta += checked - series.value;
    series.value = checked;
    series.count++;
    if (this.#metrics.perInvocation) this.#metrics.touch(this, series);
  }
}

/** The histogram boundaries: the advised ones when valid (ascending, finite), else the SDK's. */
function boundariesOf(
  advice: MetricAdvice | undefined,
  name: string,
  metrics: ApplicationMetrics,
): readonly number[] {
  const advised = advice?.explicitBucketBoundaries;
  if (advised === undefined) return defaultHistogramBoundaries;
  const ascending = advised.every(
    (bound, i) => typeof bound === 'number' && !Number.isNaN(bound) && (i === 0 || bound > advised[i - 1]!),
  );
  if (ascending) return advised.filter((bound) => bound !== Number.POSITIVE_INFINITY);
  metrics.warn(
    { instrument: name, explicitBucketBoundaries: advised },
    'histogram advice is not an ascending list of numbers; the default boundaries are used',
  );
  return defaultHistogramBoundaries;
}

/**
 * A string naming an attribute set whatever the order its keys were given in: keys sorted (when
 * more than one), each with its value, non-string values marked so `5` and `"5"` stay apart.
 */
function attributeKey(attributes: Attributes): string {
  const keys = Object.keys(attributes);
  if (keys.length > 1) keys.sort();
  let key = '';
  for (const name of keys) {
    const value = attributes[name];
    if (value === undefined || value === null) continue;
    key += `${name}\u0001${typeof value === 'string' ? value : `\u0002${JSON.stringify(value)}`}\u0000`;
  }
  return key;
}

function copyAttributes(attributes: Attributes): Attributes {
  const copy: Attributes = {};
  for (const name of Object.keys(attributes)) {
    const value = attributes[name];
    if (value === undefined || value === null) continue;
    copy[name] = Array.isArray(value) ? [...value] : value;
  }
  return copy;
}

/** An attribute value as a label or dimension value (what exporter-prometheus writes). */
export function attributeText(value: AttributeValue | undefined): string {
  if (typeof value === 'string') return value;
  return value === undefined ? '' : JSON.stringify(value);
}

class SyncInstrument {
  protected readonly storage: InstrumentStorage;
  constructor(storage: InstrumentStorage) {
    this.storage = storage;
  }
}

class CounterInstrument extends SyncInstrument implements Counter, UpDownCounter {
  add(value: number, attributes?: Attributes): void {
    this.storage.add(value, attributes);
  }
}

class GaugeInstrument extends SyncInstrument implements Gauge {
  record(value: number, attributes?: Attributes): void {
    this.storage.set(value, attributes);
  }
}

class HistogramInstrument extends SyncInstrument implements Histogram {
  record(value: number, attributes?: Attributes): void {
    this.storage.record(value, attributes);
  }
}

class ObservableInstrument implements ObservableCounter, ObservableUpDownCounter, ObservableGauge {
  readonly storage: InstrumentStorage;
  constructor(storage: InstrumentStorage) {
    this.storage = storage;
  }
  addCallback(callback: ObservableCallback): void {
    if (!this.storage.callbacks.includes(callback)) this.storage.callbacks.push(callback);
  }
  removeCallback(callback: ObservableCallback): void {
    const at = this.storage.callbacks.indexOf(callback);
    if (at >= 0) this.storage.callbacks.splice(at, 1);
  }
}

/** One `metrics.getMeter(...)` scope. */
class MeshMeter implements Meter {
  readonly #metrics: ApplicationMetrics;
  readonly #scope: MeterScope;
  /** Instruments by lower-cased name: OTel names are case-insensitive. */
  readonly #instruments = new Map<string, { storage: InstrumentStorage; instrument: unknown }>();

  constructor(metrics: ApplicationMetrics, scope: MeterScope) {
    this.#metrics = metrics;
    this.#scope = scope;
  }

  #instrument<T>(
    name: string,
    kind: InstrumentKind,
    options: MetricOptions | undefined,
    make: (storage: InstrumentStorage) => T,
  ): T {
    const id = name.toLowerCase();
    const existing = this.#instruments.get(id);
    if (existing !== undefined) {
      // Asking again for the same instrument (a handler that calls createCounter per invocation)
      // costs one map lookup and shares the series; a different kind under the same name is
      // the SDK's "duplicate instrument" conflict: warned once, and its recordings kept apart.
      if (existing.storage.kind === kind) return existing.instrument as T;
      this.#metrics.warn(
        { instrument: name, kind, registeredKind: existing.storage.kind },
        'an instrument of another kind already has this name in this meter; its recordings are not exported',
      );
      return make(new InstrumentStorage(this.#metrics, this.#scope, name, kind, options));
    }
    if (!/^[a-z][a-z0-9_.\-/]{0,254}$/i.test(name))
      this.#metrics.warn(
        { instrument: name },
        'invalid metric name: use an ASCII letter then letters, digits, "_", ".", "-" or "/" (at most 255)',
      );
    const storage = new InstrumentStorage(this.#metrics, this.#scope, name, kind, options);
    const instrument = make(storage);
    this.#instruments.set(id, { storage, instrument });
    this.#metrics.instruments.push(storage);
    return instrument;
  }

  createCounter(name: string, options?: MetricOptions): Counter {
    return this.#instrument(name, 'counter', options, (s) => new CounterInstrument(s));
  }
  createUpDownCounter(name: string, options?: MetricOptions): UpDownCounter {
    return this.#instrument(name, 'updowncounter', options, (s) => new CounterInstrument(s));
  }
  createHistogram(name: string, options?: MetricOptions): Histogram {
    return this.#instrument(name, 'histogram', options, (s) => new HistogramInstrument(s));
  }
  createGauge(name: string, options?: MetricOptions): Gauge {
    return this.#instrument(name, 'gauge', options, (s) => new GaugeInstrument(s));
  }
  createObservableCounter(name: string, options?: MetricOptions): ObservableCounter {
    return this.#instrument(name, 'observablecounter', options, (s) => new ObservableInstrument(s));
  }
  createObservableUpDownCounter(name: string, options?: MetricOptions): ObservableUpDownCounter {
    return this.#instrument(name, 'observableupdowncounter', options, (s) => new ObservableInstrument(s));
  }
  createObservableGauge(name: string, options?: MetricOptions): ObservableGauge {
    return this.#instrument(name, 'observablegauge', options, (s) => new ObservableInstrument(s));
  }
  addBatchObservableCallback(callback: BatchObservableCallback, observables: Observable[]): void {
    this.#metrics.batchCallbacks.push({ callback, observables });
  }
  removeBatchObservableCallback(callback: BatchObservableCallback, observables: Observable[]): void {
    const at = this.#metrics.batchCallbacks.findIndex(
      (entry) => entry.callback === callback && sameList(entry.observables, observables),
    );
    if (at >= 0) this.#metrics.batchCallbacks.splice(at, 1);
  }
}

function sameList(a: readonly unknown[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/**
 * The mesh's `MeterProvider`: every meter and instrument the application makes through
 * `metrics.getMeter(...)`, with their series. One per mesh; registered as the API's global only
 * when no other provider is (see `app-metrics-setup.ts`).
 */
export class ApplicationMetrics implements MeterProvider {
  readonly cardinalityLimit: number;
  readonly perInvocation: boolean;
  readonly #warn: ApplicationMetricsOptions['warn'];
  readonly #meters = new Map<string, MeshMeter>();
  /** Every instrument, in the order made. */
  readonly instruments: InstrumentStorage[] = [];
  readonly batchCallbacks: { callback: BatchObservableCallback; observables: Observable[] }[] = [];
  /** Recordings that went to an overflow series, by instrument name. */
  readonly overflows = new Map<string, number>();
  /** EMF: the series this invocation recorded into, with their instruments. */
  readonly touched: { storage: InstrumentStorage; series: Series }[] = [];
  readonly #warnedOnce = new Set<string>();

  constructor(options: ApplicationMetricsOptions) {
    this.cardinalityLimit = options.cardinalityLimit;
    this.perInvocation = options.perInvocation;
    this.#warn = options.warn;
  }

  getMeter(name: string, version?: string, options?: MeterOptions): Meter {
    const id = `${name}\u0000${version ?? ''}\u0000${options?.schemaUrl ?? ''}`;
    let meter = this.#meters.get(id);
    if (meter === undefined) {
      meter = new MeshMeter(this, { name, version, schemaUrl: options?.schemaUrl });
      this.#meters.set(id, meter);
    }
    return meter;
  }

  warn(fields: Record<string, unknown>, message: string): void {
    this.#warn(fields, message);
  }

  /** One warning per instrument and kind of problem, never one per recording. */
  warnOnce(storage: InstrumentStorage, problem: string, message: string): void {
    const id = `${storage.scope.name}\u0000${storage.name}\u0000${problem}`;
    if (this.#warnedOnce.has(id)) return;
    this.#warnedOnce.add(id);
    this.#warn({ instrument: storage.name }, message);
  }

  countOverflow(instrument: string): void {
    this.overflows.set(instrument, (this.overflows.get(instrument) ?? 0) + 1);
  }

  touch(storage: InstrumentStorage, series: Series): void {
    if (series.touched) return;
    series.touched = true;
    this.touched.push({ storage, series });
  }

  /** Runs the observable instruments' callbacks (synchronous ones; a returned promise is not awaited). */
  observe(): void {
    for (const storage of this.instruments) {
      if (storage.callbacks.length === 0) continue;
      const result: ObservableResult = {
        observe: (value, attributes) => storage.observed(value, attributes),
      };
      for (const callback of storage.callbacks) this.#run(storage.name, () => callback(result));
    }
    for (const { callback, observables } of this.batchCallbacks) {
      const result: BatchObservableResult = {
        observe: (observable, value, attributes) => {
          if (!(observable instanceof ObservableInstrument) || !observables.includes(observable)) return;
          observable.storage.observed(value, attributes);
        },
      };
      this.#run('batch callback', () => callback(result));
    }
  }

  #run(name: string, callback: () => void | Promise<void>): void {
    try {
      const returned = callback();
      if (returned !== undefined && typeof (returned as Promise<void>).catch === 'function')
        (returned as Promise<void>).catch((error: unknown) =>
          this.#warn({ instrument: name, err: error }, 'observable callback failed'),
        );
    } catch (error) {
      this.#warn({ instrument: name, err: error }, 'observable callback failed');
    }
  }

  /** Whether any observable callback is registered (EMF then observes once per invocation). */
  get observing(): boolean {
    return this.batchCallbacks.length > 0 || this.instruments.some((storage) => storage.callbacks.length > 0);
  }
}
