/**
 * The application's metrics written out: as Prometheus text after the mesh's own families (the
 * names, labels and line order of `@opentelemetry/exporter-prometheus`), and as CloudWatch EMF
 * members and directives inside the invocation's own EMF line.
 */
import {
  type ApplicationMetrics,
  attributeText,
  type InstrumentStorage,
  type Series,
} from './app-metrics.js';

/** OTel names allow `.`, `-` and `/`; Prometheus names do not (exporter-prometheus's rule). */
function sanitize(name: string): string {
  return name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
}

function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(text: string): string {
  return escapeText(text).replace(/"/g, '\\"');
}

function numberText(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return `${value}`;
}

/** The Prometheus family name: sanitised, `_` before a leading digit, `_total` on monotonic sums. */
export function prometheusName(storage: InstrumentStorage): string {
  let name = sanitize(escapeText(storage.name));
  if (name[0]! >= '0' && name[0]! <= '9') name = `_${name}`;
  if (storage.aggregation === 'monotonic' && !name.endsWith('_total')) name += '_total';
  return name;
}

function prometheusType(storage: InstrumentStorage): string {
  if (storage.aggregation === 'monotonic') return 'counter';
  if (storage.aggregation === 'histogram') return 'histogram';
  return 'gauge';
}

const overflowFamily = 'serverless_metric_overflow_total';

/**
 * The series' labels then the scope's, as exporter-prometheus orders them. Two attribute keys
 * that sanitise to one label name (`a.b`, `a_b`) keep the first: a repeated label name fails the
 * whole scrape (exporter-prometheus writes both).
 */
function labels(series: Series, scope: string): string {
  let text = '';
  let seen: Set<string> | undefined;
  const keys = Object.keys(series.attributes);
  for (const key of keys) {
    const name = sanitize(key);
    if (keys.length > 1) {
      seen ??= new Set();
      if (seen.has(name)) continue;
      seen.add(name);
    }
    text += `${text === '' ? '' : ','}${name}="${escapeLabel(attributeText(series.attributes[key]))}"`;
  }
  return text === '' ? scope : `${text},${scope}`;
}

function scopeLabels(storage: InstrumentStorage): string {
  const { name, schemaUrl, version } = storage.scope;
  let text = `otel_scope_name="${escapeLabel(name)}"`;
  if (schemaUrl) text += `,otel_scope_schema_url="${escapeLabel(schemaUrl)}"`;
  if (version) text += `,otel_scope_version="${escapeLabel(version)}"`;
  return text;
}

/**
 * The application's families, then `serverless_metric_overflow_total`. Observable callbacks run
 * first, so a scrape sees what they report now. Two instruments whose names become the same
 * Prometheus name (in two meters) are one family, as a scrape allows one `# TYPE` per name; one
 * of another type under that name is left out, with one warning.
 */
export function renderApplicationPrometheus(
  app: ApplicationMetrics,
  functionLabel: string,
  meshFamilies: ReadonlySet<string> = new Set(),
): string {
  app.observe();
  const families = new Map<string, { type: string; storages: InstrumentStorage[] }>();
  for (const storage of app.instruments) {
    if (storage.series.size === 0) continue;
    const name = prometheusName(storage);
    const type = prometheusType(storage);
    if (meshFamilies.has(name) || name === overflowFamily) {
      app.warnOnce(
        storage,
        'mesh-name',
        `${storage.name} takes the name of one of the mesh's own metrics (${name}); left out of the exposition, rename it`,
      );
      continue;
    }
    const family = families.get(name);
    if (family === undefined) families.set(name, { type, storages: [storage] });
    else if (family.type === type) family.storages.push(storage);
    else
      app.warnOnce(
        storage,
        'prometheus-type',
        `${storage.name} is a ${type} under the Prometheus name ${name}, already a ${family.type}; left out of the exposition`,
      );
  }
  let out = '';
  for (const [name, { type, storages }] of families) {
    const first = storages[0]!;
    out += `# HELP ${name} ${escapeText(first.description || 'description missing')}\n`;
    if (first.unit) out += `# UNIT ${name} ${escapeText(first.unit)}\n`;
    out += `# TYPE ${name} ${type}\n`;
    for (const storage of storages) {
      const scope = scopeLabels(storage);
      for (const series of storage.series.values()) {
        const set = labels(series, scope);
        if (storage.aggregation !== 'histogram') {
          out += `${name}{${set}} ${numberText(series.value)}\n`;
          continue;
        }
        out += `${name}_count{${set}} ${series.count}\n${name}_sum{${set}} ${numberText(series.value)}\n`;
        const bounds = storage.boundaries!;
        let cumulative = 0;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += series.buckets![i]!;
          out += `${name}_bucket{${set},le="${bounds[i]}"} ${cumulative}\n`;
        }
        cumulative += series.buckets![bounds.length]!;
        out += `${name}_bucket{${set},le="+Inf"} ${cumulative}\n`;
      }
    }
  }
  out +=
    "# HELP serverless_metric_overflow_total Application metric recordings that went to an instrument's otel.metric.overflow series (its cardinality limit was reached).\n# TYPE serverless_metric_overflow_total counter\n";
  for (const [instrument, count] of app.overflows)
    out += `serverless_metric_overflow_total{function="${functionLabel}",instrument="${escapeLabel(instrument)}"} ${count}\n`;
  return out;
}

/** CloudWatch's unit for an OTel (UCUM) unit; counters without one count. */
function cloudWatchUnit(storage: InstrumentStorage): string {
  const known = cloudWatchUnits[storage.unit];
  if (known !== undefined) return known;
  return storage.aggregation === 'monotonic' ? 'Count' : 'None';
}

const cloudWatchUnits: Readonly<Record<string, string>> = {
  s: 'Seconds',
  ms: 'Milliseconds',
  us: 'Microseconds',
  By: 'Bytes',
  kBy: 'Kilobytes',
  MBy: 'Megabytes',
  GBy: 'Gigabytes',
  bit: 'Bits',
  'By/s': 'Bytes/Second',
  '%': 'Percent',
  '1': 'None',
};

/** One EMF line being filled: its properties (JSON texts) and its directives by dimension set. */
class EmfLine {
  readonly members: Map<string, string>;
  readonly directives = new Map<string, { dimensions: string; metrics: string[] }>();

  constructor(members: Map<string, string>) {
    this.members = members;
  }

  /** Whether a series fits: its metric name is free and every dimension is free or equal. */
  fits(metric: string, dimensions: readonly (readonly [string, string])[]): boolean {
    if (this.members.has(metric)) return false;
    for (const [key, value] of dimensions) {
      const present = this.members.get(key);
      if (present !== undefined && present !== value) return false;
    }
    return true;
  }

  add(
    metric: string,
    /** The directive's metric entry (`{"Name":…,"Unit":…}`). */
    entry: string,
    value: string,
    dimensions: readonly (readonly [string, string])[],
    keys: string,
  ): void {
    this.members.set(metric, value);
    for (const [key, text] of dimensions) this.members.set(key, text);
    let directive = this.directives.get(keys);
    if (directive === undefined) {
      directive = { dimensions: keys, metrics: [] };
      this.directives.set(keys, directive);
    }
    directive.metrics.push(entry);
  }

  directivesText(namespace: string): string {
    let text = '';
    for (const { dimensions, metrics } of this.directives.values())
      text += `,{"Namespace":${namespace},"Dimensions":[${dimensions}],"Metrics":[${metrics.join(',')}]}`;
    return text;
  }
}

/** What the application adds to an invocation's EMF output. */
export interface ApplicationEmf {
  /** `,{directive}…` to append inside the invocation line's `CloudWatchMetrics` array. */
  readonly directives: string;
  /** `,"key":value…` to append to the invocation line's properties. */
  readonly members: string;
  /** Whole lines for what the invocation line could not hold (see below); usually empty. */
  readonly lines: string;
}

/**
 * Moves what this invocation recorded into EMF. Each series becomes a metric in the invocation's
 * own line, its attribute keys the dimension set. An EMF line holds one value per property, so a
 * series whose attribute has another value than the line already carries (two `tier`s recorded
 * in one invocation, or an attribute named like one of the mesh's dimensions) goes to an extra
 * line — as few as hold them all. Counters report what the invocation added, histograms the
 * values it recorded (up to 100, CloudWatch's limit), gauges and up-down counters their value.
 *
 * @param reserved the invocation line's properties (dimensions, mesh metrics) as JSON texts.
 */
export function takeApplicationEmf(
  app: ApplicationMetrics,
  namespace: string,
  reserved: Map<string, string>,
  invocationId: string,
): ApplicationEmf | undefined {
  if (app.observing) app.observe();
  const touched = app.touched;
  if (touched.length === 0) return undefined;
  const ns = JSON.stringify(namespace);
  const main = new EmfLine(reserved);
  const mainOwn = new Map<string, string>();
  const extra: EmfLine[] = [];
  for (const { storage, series } of touched) {
    series.touched = false;
    const value = emfValue(storage, series);
    series.pendingDelta = 0;
    series.pendingValues = undefined;
    if (value === undefined) continue;
    // A series' attributes never change: its dimensions are serialised once.
    if (series.emfDimensions === undefined) {
      const sorted = Object.keys(series.attributes).sort();
      series.emfDimensions = sorted.map(
        (key) => [key, JSON.stringify(attributeText(series.attributes[key]))] as const,
      );
      series.emfDimensionKeys = JSON.stringify(sorted);
    }
    const dimensions = series.emfDimensions;
    const keys = series.emfDimensionKeys!;
    // The directive's metric entry, `{"Name":…,"Unit":…}`, also made once per instrument.
    storage.emfMetric ??= `{"Name":${JSON.stringify(storage.name)},"Unit":"${cloudWatchUnit(storage)}"}`;
    const unit = storage.emfMetric;
    if (main.fits(storage.name, dimensions)) {
      for (const [key, text] of dimensions) if (!main.members.has(key)) mainOwn.set(key, text);
      mainOwn.set(storage.name, value);
      main.add(storage.name, unit, value, dimensions, keys);
      continue;
    }
    let line = extra.find((candidate) => candidate.fits(storage.name, dimensions));
    if (line === undefined) {
      line = new EmfLine(new Map());
      extra.push(line);
    }
    line.add(storage.name, unit, value, dimensions, keys);
  }
  touched.length = 0;
  let members = '';
  for (const [key, text] of mainOwn) members += `,${JSON.stringify(key)}:${text}`;
  let lines = '';
  if (extra.length > 0) {
    const id = JSON.stringify(invocationId);
    for (const line of extra) {
      let text = `{"_aws":{"Timestamp":${Date.now()},"CloudWatchMetrics":[${line.directivesText(ns).slice(1)}]}`;
      for (const [key, value] of line.members) text += `,${JSON.stringify(key)}:${value}`;
      if (!line.members.has('invocation_id')) text += `,"invocation_id":${id}`;
      lines += `${text}}\n`;
    }
  }
  return { directives: main.directivesText(ns), members, lines };
}

function emfValue(storage: InstrumentStorage, series: Series): string | undefined {
  if (storage.aggregation === 'histogram') {
    const values = series.pendingValues;
    if (values === undefined || values.length === 0) return undefined;
    const finite = values.filter(Number.isFinite);
    if (finite.length === 0) return undefined;
    return finite.length === 1 ? `${finite[0]}` : JSON.stringify(finite);
  }
  const value = storage.aggregation === 'monotonic' ? series.pendingDelta : series.value;
  return Number.isFinite(value) ? `${value}` : undefined;
}
