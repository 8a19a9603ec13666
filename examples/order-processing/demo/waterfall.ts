/** Prints one trace as a waterfall: service, span, start, duration, status, and a bar. */
import type { ReceivedSpan } from '@sidecarless/testing';

const kinds = ['', 'internal', 'server', 'client', 'producer', 'consumer'];
const statuses = ['UNSET', 'OK', 'ERROR'];

/** One row of the waterfall. */
export interface WaterfallRow {
  readonly depth: number;
  readonly service: string;
  readonly name: string;
  readonly kind: string;
  readonly startMs: number;
  readonly durationMs: number;
  readonly status: string;
}

const nanos = (value: string) => BigInt(value);

/** Orders the spans of one trace as a tree (children under their parent, by start time). */
export function waterfallRows(spans: readonly ReceivedSpan[]): WaterfallRow[] {
  if (spans.length === 0) return [];
  let origin = nanos(spans[0]!.startTimeUnixNano);
  for (const span of spans) {
    const start = nanos(span.startTimeUnixNano);
    if (start < origin) origin = start;
  }
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map<string | undefined, ReceivedSpan[]>();
  for (const span of spans) {
    // A span whose parent never arrived is shown at the top rather than dropped.
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const rows: WaterfallRow[] = [];
  const visit = (parent: string | undefined, depth: number) => {
    const list = [...(children.get(parent) ?? [])].sort((a, b) =>
      nanos(a.startTimeUnixNano) < nanos(b.startTimeUnixNano) ? -1 : 1,
    );
    for (const span of list) {
      rows.push({
        depth,
        service: String(span.resource['service.name'] ?? '?'),
        name: span.name,
        kind: kinds[span.kind] ?? String(span.kind),
        startMs: Number(nanos(span.startTimeUnixNano) - origin) / 1e6,
        durationMs: Number(nanos(span.endTimeUnixNano) - nanos(span.startTimeUnixNano)) / 1e6,
        status: statuses[span.status.code] ?? String(span.status.code),
      });
      visit(span.spanId, depth + 1);
    }
  };
  visit(undefined, 0);
  return rows;
}

/** Formats the rows as text lines, with a bar scaled to the whole trace. */
export function formatWaterfall(rows: readonly WaterfallRow[], width = 32): string[] {
  const total = Math.max(1, ...rows.map((row) => row.startMs + row.durationMs));
  const labels = rows.map((row) => `${'  '.repeat(row.depth)}${row.name} (${row.kind})`);
  const labelWidth = Math.max(4, ...labels.map((label) => label.length));
  const serviceWidth = Math.max(7, ...rows.map((row) => row.service.length));
  const lines = [
    `${'service'.padEnd(serviceWidth)}  ${'span'.padEnd(labelWidth)}  ${'start'.padStart(8)}  ${'duration'.padStart(9)}  status  timeline`,
  ];
  rows.forEach((row, index) => {
    const from = Math.floor((row.startMs / total) * width);
    const length = Math.max(1, Math.round((row.durationMs / total) * width));
    const bar = `${' '.repeat(from)}${'█'.repeat(Math.min(length, width - from))}`;
    lines.push(
      `${row.service.padEnd(serviceWidth)}  ${labels[index]!.padEnd(labelWidth)}  ${`${row.startMs.toFixed(1)}ms`.padStart(8)}  ${`${row.durationMs.toFixed(1)}ms`.padStart(9)}  ${row.status.padEnd(6)}  |${bar.padEnd(width)}|`,
    );
  });
  return lines;
}
