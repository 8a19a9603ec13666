import {
  context,
  createContextKey,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
} from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { LightTracerProvider, randomSpanId, randomTraceId, sampledAtRatio } from './light-tracer.js';
import { W3CPropagator } from './propagation.js';
import { SpanBatcher } from './span-batcher.js';

/** An exporter that keeps what it is given (the SDK's in-memory one, without loading the SDK). */
function keepingExporter() {
  const exported: ReadableSpan[] = [];
  const exporter: SpanExporter = {
    export: (spans, done) => {
      exported.push(...spans);
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  return { exported, exporter };
}

function provider(ratio = 1, exporter: SpanExporter = keepingExporter().exporter) {
  const batcher = new SpanBatcher(exporter, {
    maxQueueSize: 8,
    maxExportBatchSize: 4,
    scheduledDelayMs: 60_000,
    exportTimeoutMs: 200,
    onExportFailure: () => {},
  });
  return {
    provider: new LightTracerProvider({ resource: { 'service.name': 'unit' }, ratio, pipeline: batcher }),
    batcher,
  };
}

afterEach(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

describe('the light tracer', () => {
  it('generates valid random W3C ids', () => {
    const traceIds = new Set(Array.from({ length: 1_000 }, randomTraceId));
    expect(traceIds.size).toBe(1_000);
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(randomSpanId()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('samples new traces at the configured ratio, the same way for the same trace id', () => {
    const ids = Array.from({ length: 20_000 }, randomTraceId);
    const sampled = ids.filter((id) => sampledAtRatio(id, 0.25)).length / ids.length;
    expect(sampled).toBeGreaterThan(0.22);
    expect(sampled).toBeLessThan(0.28);
    for (const id of ids.slice(0, 100)) expect(sampledAtRatio(id, 0.25)).toBe(sampledAtRatio(id, 0.25));
    expect(ids.every((id) => sampledAtRatio(id, 1))).toBe(true);
    expect(ids.some((id) => sampledAtRatio(id, 0))).toBe(false);
  });

  it('follows the parent sampling decision over the ratio', () => {
    const { provider: never } = provider(0);
    const tracer = never.getTracer('unit');
    const sampledParent = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
      isRemote: true,
    });
    const child = tracer.startSpan('child', {}, sampledParent);
    expect(child.isRecording()).toBe(true);
    expect(child.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    const root = tracer.startSpan('root', {}, ROOT_CONTEXT);
    expect(root.isRecording()).toBe(false);
    // Unsampled spans still carry fresh ids, for log correlation and propagation.
    expect(root.spanContext().spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(root.spanContext().traceFlags).toBe(0);
  });

  it('exports ended spans in the SDK ReadableSpan shape, batched and on flush', async () => {
    const { exported, exporter } = keepingExporter();
    const { provider: traced } = provider(1, exporter);
    const tracer = traced.getTracer('unit', '1.2.3');
    const parent = tracer.startSpan('parent', {
      kind: SpanKind.SERVER,
      attributes: { a: 1, skip: undefined },
    });
    const child = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, parent));
    child.recordException(new TypeError('boom'));
    child.end();
    parent.setAttribute('b', 'two');
    parent.setStatus({ code: 2, message: 'failed' });
    parent.end();
    parent.setAttribute('late', true); // ignored: the span has ended
    expect(exported).toHaveLength(0);
    await traced.forceFlush();
    expect(exported.map((span) => span.name)).toEqual(['child', 'parent']);
    const [exportedChild, exportedParent] = exported;
    expect(exportedChild!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(exportedChild!.events[0]).toMatchObject({
      name: 'exception',
      attributes: { 'exception.type': 'TypeError', 'exception.message': 'boom' },
    });
    expect(exportedParent!.attributes).toEqual({ a: 1, b: 'two' });
    expect(exportedParent!.status).toEqual({ code: 2, message: 'failed' });
    expect(exportedParent!.kind).toBe(SpanKind.SERVER);
    expect(exportedParent!.resource.attributes).toEqual({ 'service.name': 'unit' });
    expect(exportedParent!.instrumentationScope).toEqual({ name: 'unit', version: '1.2.3' });
    const [startS, startNs] = exportedParent!.startTime;
    const [endS, endNs] = exportedParent!.endTime;
    expect(endS * 1e9 + endNs).toBeGreaterThanOrEqual(startS * 1e9 + startNs);
    expect(Math.abs(startS * 1000 - Date.now())).toBeLessThan(60_000);
  });

  it('keeps at most 128 attributes per span and counts the rest as dropped', () => {
    const span = provider(1)
      .provider.getTracer('unit')
      .startSpan('wide', { attributes: { first: 0 } });
    const many: Record<string, number> = {};
    for (let i = 0; i < 200; i++) many[`key${i}`] = i;
    span.setAttributes(many);
    span.setAttribute('first', 1); // replacing a kept attribute is not a new one
    const readable = span as unknown as ReadableSpan;
    expect(Object.keys(readable.attributes)).toHaveLength(128);
    expect(readable.attributes.first).toBe(1);
    expect(readable.droppedAttributesCount).toBe(73);
  });

  it('exports a full batch at once, without waiting for a flush', () => {
    const { exported, exporter } = keepingExporter();
    const tracer = provider(1, exporter).provider.getTracer('unit');
    for (let i = 0; i < 4; i++) tracer.startSpan(`span ${i}`).end();
    expect(exported).toHaveLength(4);
  });

  it('drops spans beyond the queue limit instead of growing without bound', async () => {
    const held: ((result: { code: number }) => void)[] = [];
    const { provider: traced, batcher } = provider(1, {
      export: (_spans, done) => held.push(done),
      shutdown: () => Promise.resolve(),
    });
    const tracer = traced.getTracer('unit');
    // Batches of 4 go out as they fill; the queue holds at most 8 between exports.
    for (let i = 0; i < 30; i++) tracer.startSpan('s').end();
    expect(batcher.dropped).toBe(0);
    const stuck = new SpanBatcher(
      { export: () => {}, shutdown: () => Promise.resolve() },
      {
        maxQueueSize: 2,
        maxExportBatchSize: 10,
        scheduledDelayMs: 60_000,
        exportTimeoutMs: 50,
        onExportFailure: () => {},
      },
    );
    const stuckTracer = new LightTracerProvider({ resource: {}, ratio: 1, pipeline: stuck }).getTracer(
      'unit',
    );
    for (let i = 0; i < 5; i++) stuckTracer.startSpan('s').end();
    expect(stuck.dropped).toBe(3);
    // An exporter that never answers is abandoned after the export timeout.
    const started = performance.now();
    await stuck.forceFlush();
    expect(performance.now() - started).toBeLessThan(1_000);
    for (const done of held) done({ code: 0 });
  });

  it('exports what is queued on shutdown, shuts the exporter once and takes no spans after', async () => {
    let shutdowns = 0;
    const exported: string[] = [];
    const batcher = new SpanBatcher(
      {
        export: (spans, done) => {
          exported.push(...spans.map((span) => span.name));
          done({ code: 0 });
        },
        shutdown: async () => {
          shutdowns++;
        },
      },
      {
        maxQueueSize: 8,
        maxExportBatchSize: 4,
        scheduledDelayMs: 60_000,
        exportTimeoutMs: 50,
        onExportFailure: () => {},
      },
    );
    const tracer = new LightTracerProvider({ resource: {}, ratio: 1, pipeline: batcher }).getTracer('unit');
    tracer.startSpan('before').end();
    await Promise.all([batcher.shutdown(), batcher.shutdown()]);
    tracer.startSpan('after').end();
    await batcher.forceFlush();
    expect(exported).toEqual(['before']);
    expect(shutdowns).toBe(1);
  });

  it('reports a failing exporter once per run of failures', async () => {
    const failures: unknown[] = [];
    let fail = true;
    const batcher = new SpanBatcher(
      {
        export: (_spans, done) => done(fail ? { code: 1, error: new Error('collector down') } : { code: 0 }),
        shutdown: () => Promise.resolve(),
      },
      {
        maxQueueSize: 8,
        maxExportBatchSize: 1,
        scheduledDelayMs: 60_000,
        exportTimeoutMs: 50,
        onExportFailure: (reason) => failures.push(reason),
        now: () => clock,
      },
    );
    let clock = 0;
    const tracer = new LightTracerProvider({ resource: {}, ratio: 1, pipeline: batcher }).getTracer('unit');
    const exportOne = async (name: string) => {
      tracer.startSpan(name).end();
      await batcher.forceFlush();
    };
    await exportOne('a');
    clock += 1_000; // past the breaker's first cool-down: 'b' is a probe, and fails too
    await exportOne('b');
    expect(failures).toHaveLength(1);
    fail = false;
    clock += 2_000;
    await exportOne('c');
    fail = true;
    await exportOne('d');
    expect(failures).toHaveLength(2);
  });

  it('stops waiting on a failed exporter: holds spans for a cool-down, then probes once', async () => {
    const exported: string[][] = [];
    let fail = true;
    let clock = 0;
    const batcher = new SpanBatcher(
      {
        export: (spans, done) => {
          exported.push(spans.map((span) => span.name));
          done(fail ? { code: 1, error: new Error('collector down') } : { code: 0 });
        },
        shutdown: () => Promise.resolve(),
      },
      {
        maxQueueSize: 3,
        maxExportBatchSize: 10,
        scheduledDelayMs: 60_000,
        exportTimeoutMs: 50,
        onExportFailure: () => {},
        now: () => clock,
      },
    );
    const tracer = new LightTracerProvider({ resource: {}, ratio: 1, pipeline: batcher }).getTracer('unit');
    const flushAfter = async (...names: string[]) => {
      for (const name of names) tracer.startSpan(name).end();
      await batcher.forceFlush();
    };
    await flushAfter('a');
    expect(exported).toEqual([['a']]);
    expect(batcher.breakerOpen).toBe(true);
    expect(batcher.dropped).toBe(1); // its export failed
    await flushAfter('b', 'c'); // open: nothing is sent
    expect(exported).toHaveLength(1);
    await flushAfter('d', 'e'); // the queue holds 3: 'e' is dropped, counted
    expect(batcher.dropped).toBe(2);
    clock += 1_000;
    fail = false;
    await flushAfter(); // cool-down over: one probe carries what waited, and closes the breaker
    expect(exported[1]).toEqual(['b', 'c', 'd']);
    expect(batcher.breakerOpen).toBe(false);
    fail = true;
    await flushAfter('f'); // fails: open for 1 s again (a success reset the cool-down)
    clock += 999;
    await flushAfter('g');
    expect(exported).toHaveLength(3);
    clock += 1;
    await flushAfter(); // probe fails: open for 2 s now
    expect(exported).toHaveLength(4);
    clock += 1_999;
    await flushAfter();
    expect(exported).toHaveLength(4);
    clock += 1;
    await flushAfter('h');
    expect(exported).toHaveLength(5);
  });

  it('registers the async-local context and W3C propagation, as the SDK does', async () => {
    const { provider: traced } = provider(1);
    traced.register();
    const tracer = trace.getTracer('app');
    await tracer.startActiveSpan('outer', async (outer) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(trace.getActiveSpan()).toBe(outer);
      const headers: Record<string, string> = {};
      propagation.inject(context.active(), headers);
      expect(headers.traceparent).toBe(`00-${outer.spanContext().traceId}-${outer.spanContext().spanId}-01`);
      outer.end();
    });
    expect(trace.getActiveSpan()).toBeUndefined();
    const extracted = propagation.extract(
      ROOT_CONTEXT,
      { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', baggage: 'tenant=acme' },
      defaultTextMapGetter,
    );
    expect(trace.getSpanContext(extracted)?.spanId).toBe('b7ad6b7169203331');
    expect(propagation.getBaggage(extracted)?.getEntry('tenant')?.value).toBe('acme');
    const out: Record<string, string> = {};
    new W3CPropagator().inject(extracted, out, defaultTextMapSetter);
    expect(out).toEqual({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      baggage: 'tenant=acme',
    });
  });

  it("starts no span and injects nothing inside OpenTelemetry's suppressed context", () => {
    const { provider: light } = provider();
    const suppressed = ROOT_CONTEXT.setValue(
      createContextKey('OpenTelemetry SDK Context Key SUPPRESS_TRACING'),
      true,
    );
    const span = light.getTracer('unit').startSpan('export', {}, suppressed);
    expect(span.isRecording()).toBe(false);
    expect(isSpanContextValid(span.spanContext())).toBe(false);
    const carrier: Record<string, string> = {};
    const parent = trace.setSpanContext(suppressed, {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    });
    new W3CPropagator().inject(parent, carrier, defaultTextMapSetter);
    expect(carrier).toEqual({});
    // The same parent without the key: a child span and a traceparent.
    const unsuppressed = trace.setSpanContext(ROOT_CONTEXT, trace.getSpanContext(parent)!);
    expect(light.getTracer('unit').startSpan('work', {}, unsuppressed).isRecording()).toBe(true);
    new W3CPropagator().inject(unsuppressed, carrier, defaultTextMapSetter);
    expect(carrier.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  });
});
