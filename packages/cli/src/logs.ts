/**
 * The mesh's log lines for a person: `18:03:58.412 INFO  order accepted  sku=book-42 qty=1`, the
 * level coloured on a terminal; EMF metric lines as `METRIC name=value`. Lines that are not the
 * mesh's JSON (a `console.log`, a stack) are passed through as they are.
 */
import type { Paint } from './terminal.js';

const levelColour = {
  trace: 'dim',
  debug: 'dim',
  info: 'green',
  warn: 'yellow',
  error: 'red',
  fatal: 'red',
} as const;

function value(field: unknown): string {
  if (typeof field === 'string') return /^[^\s"=]+$/.test(field) ? field : JSON.stringify(field);
  return JSON.stringify(field) ?? String(field);
}

function fields(entries: [string, unknown][]): string {
  return entries.map(([key, field]) => `${key}=${value(field)}`).join(' ');
}

/** The line parsed when it is a JSON object, else `undefined`. */
export function parseLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(line) as unknown;
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const traceKeys = new Set(['trace_id', 'span_id', 'trace_flags']);

// Every line of an invocation carries these; they are shown once, when the invocation changes.
const invocationKeys = new Set(['service', 'version', 'platform', 'cold_start', 'invocation_id']);

/** Formats a stream of lines: the invocation's facts once, then each line without them. */
export function prettyPrinter(paint: Paint): (line: string) => string {
  let current: unknown;
  return (line) => {
    const record = parseLine(line);
    const id = record?.invocation_id;
    let head = '';
    if (id !== undefined && id !== current) {
      current = id;
      const facts = [
        record?.service,
        record?.platform,
        `invocation ${String(id)}`,
        record?.cold_start === true ? 'cold start' : undefined,
      ];
      head = `${paint('dim', `── ${facts.filter((fact) => fact !== undefined).join(' · ')}`)}\n`;
    }
    return head + prettyLine(line, paint, id === undefined ? undefined : invocationKeys);
  };
}

/** One line as a person reads it, without the fields in `hide`. */
export function prettyLine(line: string, paint: Paint, hide?: ReadonlySet<string>): string {
  const record = parseLine(line);
  if (record === undefined) return line;
  const aws = record._aws as { CloudWatchMetrics?: { Metrics?: { Name?: string }[] }[] } | undefined;
  if (aws?.CloudWatchMetrics !== undefined) {
    const names = aws.CloudWatchMetrics.flatMap((set) => set.Metrics ?? []).map(
      (metric) => metric.Name ?? '',
    );
    const metrics = names.map((name): [string, unknown] => [name, record[name]]);
    return `${paint('dim', '             ')}${paint('cyan', 'METRIC')} ${fields(metrics)}`;
  }
  const { level, time, msg, ...rest } = record;
  if (typeof level !== 'string' && typeof level !== 'number') return line;
  const label = String(level).toLowerCase();
  const clock =
    typeof time === 'string'
      ? time.slice(11, 23)
      : typeof time === 'number'
        ? new Date(time).toISOString().slice(11, 23)
        : '';
  const colour = levelColour[label as keyof typeof levelColour] ?? 'bold';
  const message = typeof msg === 'string' ? msg : msg === undefined ? '' : value(msg);
  // The line's own fields first; the trace ids last; an error's stack on the lines below.
  const { err, ...others } = rest as Record<string, unknown>;
  const entries = Object.entries(others).filter(([key]) => !hide?.has(key));
  const trace = entries.filter(([key]) => traceKeys.has(key));
  const own = entries.filter(([key]) => !traceKeys.has(key));
  const error = err as { type?: unknown; message?: unknown; stack?: unknown } | undefined;
  if (error !== undefined && typeof error?.stack !== 'string') own.push(['err', err]);
  const extra = [...own, ...trace];
  const head = `${paint('dim', clock.padEnd(12))} ${paint(colour, label.toUpperCase().padEnd(5))} ${message}${extra.length > 0 ? `  ${paint('dim', fields(extra))}` : ''}`;
  if (typeof error?.stack !== 'string') return head;
  return `${head}\n${error.stack
    .split('\n')
    .map((stackLine) => paint('dim', `             ${stackLine}`))
    .join('\n')}`;
}
