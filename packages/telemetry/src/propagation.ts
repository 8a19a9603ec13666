/**
 * Trace context in and out, with `@opentelemetry/api` only: W3C Trace Context (`traceparent`,
 * `tracestate`), W3C Baggage, and the AWS X-Ray header. Written here rather than taken from
 * `@opentelemetry/core` so that extracting a parent never loads the SDK.
 */

import {
  type Baggage,
  type Context,
  createTraceState,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type SpanContext,
  type TextMapGetter,
  type TextMapPropagator,
  type TextMapSetter,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import type { HeaderSetter, TraceCarrier } from '@sidecarless/core';
import { suppressTracingKey } from './tracer-registry.js';

const traceparentPattern = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-([\da-f]{2})(?:-.*)?$/;

/** Parses a W3C `traceparent`; undefined when absent or malformed (a bad header starts a new trace). */
export function parseTraceparent(
  value: string | null | undefined,
  tracestate?: string | null,
): SpanContext | undefined {
  if (!value) return undefined;
  const match = traceparentPattern.exec(value.trim());
  if (!match || match[1] === 'ff') return undefined;
  // Version 00 has exactly four fields; later versions may append more.
  if (match[1] === '00' && value.trim().length !== 55) return undefined;
  const spanContext: SpanContext = {
    traceId: match[2]!,
    spanId: match[3]!,
    traceFlags: Number.parseInt(match[4]!, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  if (!isSpanContextValid(spanContext)) return undefined;
  if (tracestate) {
    try {
      spanContext.traceState = createTraceState(tracestate);
    } catch {
      // A malformed tracestate is dropped; the parent is still valid.
    }
  }
  return spanContext;
}

/** Parses an X-Ray header (`Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=1`). */
export function parseXRay(value: string | null | undefined): SpanContext | undefined {
  if (!value) return undefined;
  let root: string | undefined;
  let parent: string | undefined;
  let sampled = false;
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim();
    const field = part.slice(eq + 1).trim();
    if (key === 'Root') root = field;
    else if (key === 'Parent') parent = field;
    else if (key === 'Sampled') sampled = field === '1';
  }
  const rootMatch = root ? /^1-([\da-f]{8})-([\da-f]{24})$/.exec(root) : null;
  if (!rootMatch || !parent || !/^[\da-f]{16}$/.test(parent)) return undefined;
  const spanContext: SpanContext = {
    traceId: rootMatch[1]! + rootMatch[2]!,
    spanId: parent,
    traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
  };
  return isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** Parses a W3C `baggage` header into api baggage; undefined when empty. */
export function parseBaggage(value: string | null | undefined): Baggage | undefined {
  if (!value) return undefined;
  const entries: Record<string, { value: string }> = {};
  let count = 0;
  for (const member of value.split(',')) {
    const [pair] = member.split(';');
    const eq = pair!.indexOf('=');
    if (eq <= 0) continue;
    const key = pair!.slice(0, eq).trim();
    try {
      entries[key] = { value: decodeURIComponent(pair!.slice(eq + 1).trim()) };
      count++;
    } catch {
      // Undecodable member: skip it, keep the rest.
    }
  }
  return count === 0 ? undefined : propagation.createBaggage(entries);
}

/** The span context a carrier describes: W3C first, then X-Ray. */
export function carrierSpanContext(carrier: TraceCarrier | undefined): SpanContext | undefined {
  if (!carrier) return undefined;
  return parseTraceparent(carrier.traceparent, carrier.tracestate) ?? parseXRay(carrier.xRay);
}

/**
 * The parent context of an invocation: the request's `traceparent` headers when present and
 * valid, else the adapter's carrier (CloudEvents extension, X-Ray header…), else a new root.
 */
export function extractParent(headers: Headers | undefined, carrier: TraceCarrier | undefined): Context {
  let parent = headers ? parseTraceparent(headers.get('traceparent'), headers.get('tracestate')) : undefined;
  let baggageHeader = headers?.get('baggage');
  if (parent === undefined) {
    parent = carrierSpanContext(carrier);
    baggageHeader ??= carrier?.baggage;
  }
  let context = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
  const baggage = parseBaggage(baggageHeader);
  if (baggage) context = propagation.setBaggage(context, baggage);
  return context;
}

/** Formats a span context as a W3C `traceparent`. */
export function formatTraceparent(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-0${spanContext.traceFlags & TraceFlags.SAMPLED}`;
}

/** Serialises api baggage as a W3C `baggage` header value ("" when empty). */
function formatBaggage(baggage: Baggage): string {
  return baggage
    .getAllEntries()
    .map(([key, entry]) => `${key}=${encodeURIComponent(entry.value)}`)
    .join(',');
}

/** Writes `traceparent`, `tracestate` and `baggage` for `spanContext` into `headers`. */
export function injectInto(
  headers: HeaderSetter,
  spanContext: SpanContext,
  baggage: Baggage | undefined,
): void {
  if (!isSpanContextValid(spanContext)) return;
  headers.set('traceparent', formatTraceparent(spanContext));
  const state = spanContext.traceState?.serialize();
  if (state) headers.set('tracestate', state);
  if (baggage) {
    const members = formatBaggage(baggage);
    if (members) headers.set('baggage', members);
  }
}

const firstValue = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value[0] : value;

/**
 * W3C Trace Context and Baggage as one api propagator: what the mesh registers globally when it
 * sets up tracing itself, so `propagation.inject`/`extract` (the outbound client, the
 * application's own instrumentations) speak the same headers as the invocation stage.
 */
export class W3CPropagator implements TextMapPropagator {
  inject(context: Context, carrier: unknown, setter: TextMapSetter): void {
    if (context.getValue(suppressTracingKey) === true) return;
    const spanContext = trace.getSpanContext(context);
    if (spanContext && isSpanContextValid(spanContext)) {
      setter.set(carrier, 'traceparent', formatTraceparent(spanContext));
      const state = spanContext.traceState?.serialize();
      if (state) setter.set(carrier, 'tracestate', state);
    }
    const baggage = propagation.getBaggage(context);
    if (baggage) {
      const members = formatBaggage(baggage);
      if (members) setter.set(carrier, 'baggage', members);
    }
  }

  extract(context: Context, carrier: unknown, getter: TextMapGetter): Context {
    let result = context;
    const parent = parseTraceparent(
      firstValue(getter.get(carrier, 'traceparent')),
      firstValue(getter.get(carrier, 'tracestate')),
    );
    if (parent) result = trace.setSpanContext(result, parent);
    const baggage = parseBaggage(firstValue(getter.get(carrier, 'baggage')));
    if (baggage) result = propagation.setBaggage(result, baggage);
    return result;
  }

  fields(): string[] {
    return ['traceparent', 'tracestate', 'baggage'];
  }
}
