/**
 * The mesh's metrics: a few counters, one histogram and one gauge family, kept in plain numbers
 * on the mesh instance, rendered as Prometheus text or CloudWatch EMF. No metrics SDK: the
 * OpenTelemetry metrics SDK costs milliseconds to import and allocates per recording; here a
 * recording on the hot path is a cached-series lookup and a few additions — nothing allocated
 * once a label set has been seen.
 */

/** Histogram bucket bounds, in seconds (upper bounds, `le`). */
export const durationBuckets: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900,
];

/** The invocation metrics of one (platform, trigger) pair. */
export class InvocationSeries {
  readonly platform: string;
  readonly trigger: string;
  invocations = 0;
  errors = 0;
  coldStarts = 0;
  timeouts = 0;
  durationSum = 0;
  /** Per-bucket (non-cumulative) counts; the last slot is `+Inf`. */
  readonly bucketCounts = new Float64Array(durationBuckets.length + 1);

  constructor(platform: string, trigger: string) {
    this.platform = platform;
    this.trigger = trigger;
  }

  record(seconds: number, failed: boolean, coldStart: boolean, timedOut: boolean): void {
    this.invocations++;
    if (failed) this.errors++;
    if (coldStart) this.coldStarts++;
    if (timedOut) this.timeouts++;
    this.durationSum += seconds;
    let bucket = 0;
    while (bucket < durationBuckets.length && seconds > durationBuckets[bucket]!) bucket++;
    this.bucketCounts[bucket]!++;
  }
}

/**
 * A counter family with several labels: one entry per label set, keyed by the values joined
 * with a character no label value carries (NUL), so a recording is one string join and one
 * map lookup.
 */
export class LabelledCounter {
  readonly series = new Map<string, { readonly values: readonly string[]; count: number }>();

  add(values: readonly string[]): void {
    const key = values.join('\u0000');
    const found = this.series.get(key);
    if (found) found.count++;
    else this.series.set(key, { values, count: 1 });
  }
}

/** The labels of `serverless_upstream_route_requests_total`, in order. */
export const routeRequestLabels = ['upstream', 'route', 'subset', 'fault'] as const;
/** The labels of `serverless_upstream_mirrors_total`, in order. */
export const mirrorLabels = ['upstream', 'outcome'] as const;
/** The labels of `serverless_rate_limited_total`, in order. */
export const rateLimitedLabels = ['descriptor', 'mode'] as const;
/** The labels of `serverless_rate_limit_store_failures_total`. */
export const storeFailureLabels = ['failure_mode'] as const;
/** The labels of `serverless_config_reloads_total`. */
export const configReloadLabels = ['outcome'] as const;

/** Every metric of one mesh. */
export class MetricsRegistry {
  readonly functionName: string;
  readonly #invocations = new Map<string, Map<string, InvocationSeries>>();
  /** `upstream` → `code` → count. */
  readonly upstreamRequests = new Map<string, Map<string, number>>();
  readonly upstreamRetries = new Map<string, number>();
  readonly upstreamEjections = new Map<string, number>();
  readonly circuitOpen = new Map<string, number>();
  readonly authDenied = new Map<string, number>();
  /** Routed attempts: {@link routeRequestLabels}. */
  readonly routeRequests = new LabelledCounter();
  /** Mirrored copies: {@link mirrorLabels}. */
  readonly mirrors = new LabelledCounter();
  /** Requests over a rate limit: {@link rateLimitedLabels}. */
  readonly rateLimited = new LabelledCounter();
  /** Shared checks the store could not answer: {@link storeFailureLabels}. */
  readonly storeFailures = new LabelledCounter();
  /** Reconfigurations of the running mesh (a reloaded ConfigMap): {@link configReloadLabels}. */
  readonly configReloads = new LabelledCounter();

  /**
   * The application's instruments (`metrics.getMeter(...)`), when the mesh's MeterProvider is
   * registered: rendered after the mesh's families.
   */
  application:
    | { renderPrometheus(functionLabel: string, meshFamilies: ReadonlySet<string>): string }
    | undefined;

  constructor(functionName: string) {
    this.functionName = functionName;
  }

  /** The series for this label pair, created on first use (two map lookups after that). */
  invocationSeries(platform: string, trigger: string): InvocationSeries {
    let byTrigger = this.#invocations.get(platform);
    if (byTrigger === undefined) {
      byTrigger = new Map();
      this.#invocations.set(platform, byTrigger);
    }
    let series = byTrigger.get(trigger);
    if (series === undefined) {
      series = new InvocationSeries(platform, trigger);
      byTrigger.set(trigger, series);
    }
    return series;
  }

  *allInvocationSeries(): Iterable<InvocationSeries> {
    for (const byTrigger of this.#invocations.values()) yield* byTrigger.values();
  }

  upstreamRequest(upstream: string, code: string): void {
    let byCode = this.upstreamRequests.get(upstream);
    if (byCode === undefined) {
      byCode = new Map();
      this.upstreamRequests.set(upstream, byCode);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
  }

  increment(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }
}

/** Escapes a label value for the Prometheus text format. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function header(lines: string[], name: string, type: string, help: string): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
}

/** Renders the registry in the Prometheus text exposition format (version 0.0.4). */
export function renderPrometheus(registry: MetricsRegistry): string {
  const lines: string[] = [];
  const fn = label(registry.functionName);
  const all = [...registry.allInvocationSeries()];
  const base = (s: InvocationSeries) =>
    `function="${fn}",platform="${label(s.platform)}",trigger="${label(s.trigger)}"`;
  const counter = (name: string, help: string, pick: (s: InvocationSeries) => number) => {
    header(lines, name, 'counter', help);
    for (const s of all) lines.push(`${name}{${base(s)}} ${pick(s)}`);
  };
  counter('serverless_function_invocations_total', 'Invocations handled.', (s) => s.invocations);
  counter(
    'serverless_function_errors_total',
    'Invocations that failed (a thrown error or a 5xx response).',
    (s) => s.errors,
  );
  counter(
    'serverless_function_cold_starts_total',
    'Invocations that were the first in their process.',
    (s) => s.coldStarts,
  );
  counter(
    'serverless_function_timeouts_total',
    'Invocations still running at their deadline.',
    (s) => s.timeouts,
  );

  const histogram = 'serverless_function_duration_seconds';
  header(lines, histogram, 'histogram', 'Invocation duration in seconds.');
  for (const s of all) {
    let cumulative = 0;
    for (let i = 0; i < durationBuckets.length; i++) {
      cumulative += s.bucketCounts[i]!;
      lines.push(`${histogram}_bucket{${base(s)},le="${durationBuckets[i]}"} ${cumulative}`);
    }
    cumulative += s.bucketCounts[durationBuckets.length]!;
    lines.push(`${histogram}_bucket{${base(s)},le="+Inf"} ${cumulative}`);
    lines.push(`${histogram}_sum{${base(s)}} ${s.durationSum}`);
    lines.push(`${histogram}_count{${base(s)}} ${s.invocations}`);
  }

  header(
    lines,
    'serverless_upstream_requests_total',
    'counter',
    'Outbound attempts by upstream and result code.',
  );
  for (const [upstream, byCode] of registry.upstreamRequests)
    for (const [code, count] of byCode)
      lines.push(
        `serverless_upstream_requests_total{function="${fn}",upstream="${label(upstream)}",code="${label(code)}"} ${count}`,
      );
  const simple = (name: string, type: string, help: string, key: string, map: Map<string, number>) => {
    header(lines, name, type, help);
    for (const [value, count] of map)
      lines.push(`${name}{function="${fn}",${key}="${label(value)}"} ${count}`);
  };
  simple(
    'serverless_upstream_retries_total',
    'counter',
    'Outbound retries by upstream.',
    'upstream',
    registry.upstreamRetries,
  );
  simple(
    'serverless_upstream_circuit_open',
    'gauge',
    '1 while the upstream circuit breaker is open.',
    'upstream',
    registry.circuitOpen,
  );
  simple(
    'serverless_upstream_ejections_total',
    'counter',
    'Endpoints ejected by outlier detection.',
    'upstream',
    registry.upstreamEjections,
  );
  const labelled = (name: string, help: string, names: readonly string[], counter: LabelledCounter) => {
    header(lines, name, 'counter', help);
    for (const { values, count } of counter.series.values()) {
      const pairs = names.map((key, i) => `${key}="${label(values[i]!)}"`).join(',');
      lines.push(`${name}{function="${fn}",${pairs}} ${count}`);
    }
  };
  labelled(
    'serverless_upstream_route_requests_total',
    'Routed outbound attempts by upstream, route, subset and injected fault (none, abort, delay).',
    routeRequestLabels,
    registry.routeRequests,
  );
  labelled(
    'serverless_upstream_mirrors_total',
    'Mirrored copies by mirror upstream and outcome (sent, dropped, failed).',
    mirrorLabels,
    registry.mirrors,
  );
  labelled(
    'serverless_rate_limited_total',
    'Requests over a rate limit, by limit (descriptor) and mode (enforce: refused; shadow: counted only).',
    rateLimitedLabels,
    registry.rateLimited,
  );
  labelled(
    'serverless_rate_limit_store_failures_total',
    'Shared rate-limit checks the store did not answer in time, by failure mode (open: the local bucket decided; closed: refused).',
    storeFailureLabels,
    registry.storeFailures,
  );
  labelled(
    'serverless_config_reloads_total',
    'Reconfigurations of the running mesh (reloaded Istio resources), by outcome (applied; rejected: the running configuration was kept).',
    configReloadLabels,
    registry.configReloads,
  );
  simple(
    'serverless_auth_denied_total',
    'counter',
    'Requests refused by authentication or policy.',
    'reason',
    registry.authDenied,
  );
  const own = `${lines.join('\n')}\n`;
  if (registry.application === undefined) return own;
  // The application's families must not repeat one of these names: a scrape with two `# TYPE`
  // lines for one name fails whole.
  const families = new Set<string>();
  for (const line of lines) if (line.startsWith('# TYPE ')) families.add(line.split(' ')[2]!);
  return own + registry.application.renderPrometheus(fn, families);
}

/** What one invocation contributes to an EMF line. */
export interface EmfInvocation {
  readonly platform: string;
  readonly trigger: string;
  readonly durationMs: number;
  readonly failed: boolean;
  readonly coldStart: boolean;
  readonly timedOut: boolean;
  readonly invocationId: string;
  readonly traceId: string | undefined;
}

/**
 * Renders one CloudWatch Embedded Metric Format line per invocation: CloudWatch extracts the
 * metrics from the log line itself, so nothing needs flushing beyond the (synchronous) write.
 * The metric declarations never change, so they are serialised once per mesh.
 */
export function createEmfRenderer(
  namespace: string,
  functionName: string,
): (invocation: EmfInvocation, extra?: EmfExtra) => string {
  const metricNames = [
    ['serverless_function_invocations_total', 'Count'],
    ['serverless_function_errors_total', 'Count'],
    ['serverless_function_cold_starts_total', 'Count'],
    ['serverless_function_timeouts_total', 'Count'],
    ['serverless_function_duration_seconds', 'Seconds'],
  ] as const;
  const directive = JSON.stringify({
    Namespace: namespace,
    Dimensions: [['function', 'platform', 'trigger']],
    Metrics: metricNames.map(([Name, Unit]) => ({ Name, Unit })),
  });
  const fn = JSON.stringify(functionName);
  return (invocation, extra) => {
    let line = `{"_aws":{"Timestamp":${Date.now()},"CloudWatchMetrics":[${directive}${extra?.directives ?? ''}]},"function":${fn}`;
    line += `,"platform":${JSON.stringify(invocation.platform)},"trigger":${JSON.stringify(invocation.trigger)}`;
    line += `,"serverless_function_invocations_total":1,"serverless_function_errors_total":${invocation.failed ? 1 : 0}`;
    line += `,"serverless_function_cold_starts_total":${invocation.coldStart ? 1 : 0},"serverless_function_timeouts_total":${invocation.timedOut ? 1 : 0}`;
    line += `,"serverless_function_duration_seconds":${invocation.durationMs / 1000},"invocation_id":${JSON.stringify(invocation.invocationId)}`;
    if (invocation.traceId !== undefined) line += `,"trace_id":"${invocation.traceId}"`;
    if (extra !== undefined) line += extra.members;
    return `${line}}\n`;
  };
}

/** The names of the properties the invocation line always carries (dimensions, metrics, ids). */
export const emfInvocationProperties: readonly string[] = [
  'function',
  'platform',
  'trigger',
  'serverless_function_invocations_total',
  'serverless_function_errors_total',
  'serverless_function_cold_starts_total',
  'serverless_function_timeouts_total',
  'serverless_function_duration_seconds',
  'invocation_id',
  'trace_id',
];

/** What the application's metrics add to the invocation line (see `takeApplicationEmf`). */
export interface EmfExtra {
  /** `,{directive}…` inside `CloudWatchMetrics`. */
  readonly directives: string;
  /** `,"key":value…` after the mesh's properties. */
  readonly members: string;
}

/**
 * Renders one EMF line for one reconfiguration of the mesh: not an invocation's fact, so written
 * when it happens, with the `function, outcome` dimensions of the Prometheus labels.
 */
export function createEmfReloadRenderer(
  namespace: string,
  functionName: string,
): (outcome: 'applied' | 'rejected') => string {
  const directive = JSON.stringify([
    {
      Namespace: namespace,
      Dimensions: [['function', ...configReloadLabels]],
      Metrics: [{ Name: 'serverless_config_reloads_total', Unit: 'Count' }],
    },
  ]);
  const fn = JSON.stringify(functionName);
  return (outcome) =>
    `{"_aws":{"Timestamp":${Date.now()},"CloudWatchMetrics":${directive}},"function":${fn},"outcome":"${outcome}","serverless_config_reloads_total":1}\n`;
}

/** The outbound and auth counts of one invocation (see `InvocationTally`). */
export interface EmfTally {
  readonly upstreamRequests: ReadonlyMap<string, ReadonlyMap<string, number>>;
  readonly upstreamRetries: ReadonlyMap<string, number>;
  readonly authDenied: ReadonlyMap<string, number>;
  readonly routeRequests: LabelledCounter;
  readonly mirrors: LabelledCounter;
  readonly rateLimited: LabelledCounter;
  readonly storeFailures: LabelledCounter;
}

/**
 * Renders an invocation's outbound and auth counts as EMF lines, one per label set: an EMF line
 * holds one value per dimension, so two upstreams (or two result codes) need two lines. Written
 * only for invocations that made outbound calls or were refused; the dimensions match the
 * Prometheus labels (`function, upstream, code`; `function, upstream`; `function, reason`).
 */
export function createEmfTallyRenderer(
  namespace: string,
  functionName: string,
): (tally: EmfTally, invocationId: string) => string {
  const directive = (metric: string, dimensions: readonly string[]) =>
    JSON.stringify([
      { Namespace: namespace, Dimensions: [dimensions], Metrics: [{ Name: metric, Unit: 'Count' }] },
    ]);
  const requests = directive('serverless_upstream_requests_total', ['function', 'upstream', 'code']);
  const retries = directive('serverless_upstream_retries_total', ['function', 'upstream']);
  const denied = directive('serverless_auth_denied_total', ['function', 'reason']);
  const routed = directive('serverless_upstream_route_requests_total', ['function', ...routeRequestLabels]);
  const mirrored = directive('serverless_upstream_mirrors_total', ['function', ...mirrorLabels]);
  const limited = directive('serverless_rate_limited_total', ['function', ...rateLimitedLabels]);
  const storeFailed = directive('serverless_rate_limit_store_failures_total', [
    'function',
    ...storeFailureLabels,
  ]);
  const dimensions = (names: readonly string[], values: readonly string[]) =>
    names.map((key, i) => `,"${key}":${JSON.stringify(values[i])}`).join('');
  const fn = JSON.stringify(functionName);
  return (tally, invocationId) => {
    const head = `{"_aws":{"Timestamp":${Date.now()},"CloudWatchMetrics":`;
    const tail = `,"invocation_id":${JSON.stringify(invocationId)}}\n`;
    let out = '';
    for (const [upstream, byCode] of tally.upstreamRequests) {
      const name = JSON.stringify(upstream);
      for (const [code, count] of byCode)
        out += `${head}${requests}},"function":${fn},"upstream":${name},"code":${JSON.stringify(code)},"serverless_upstream_requests_total":${count}${tail}`;
    }
    for (const [upstream, count] of tally.upstreamRetries)
      out += `${head}${retries}},"function":${fn},"upstream":${JSON.stringify(upstream)},"serverless_upstream_retries_total":${count}${tail}`;
    for (const [reason, count] of tally.authDenied)
      out += `${head}${denied}},"function":${fn},"reason":${JSON.stringify(reason)},"serverless_auth_denied_total":${count}${tail}`;
    for (const { values, count } of tally.routeRequests.series.values())
      out += `${head}${routed}},"function":${fn}${dimensions(routeRequestLabels, values)},"serverless_upstream_route_requests_total":${count}${tail}`;
    for (const { values, count } of tally.mirrors.series.values())
      out += `${head}${mirrored}},"function":${fn}${dimensions(mirrorLabels, values)},"serverless_upstream_mirrors_total":${count}${tail}`;
    for (const { values, count } of tally.rateLimited.series.values())
      out += `${head}${limited}},"function":${fn}${dimensions(rateLimitedLabels, values)},"serverless_rate_limited_total":${count}${tail}`;
    for (const { values, count } of tally.storeFailures.series.values())
      out += `${head}${storeFailed}},"function":${fn}${dimensions(storeFailureLabels, values)},"serverless_rate_limit_store_failures_total":${count}${tail}`;
    return out;
  };
}
