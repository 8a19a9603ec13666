import { propagation, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { extractParent, formatTraceparent, injectInto, parseTraceparent, parseXRay } from './propagation.js';

describe('trace context propagation', () => {
  it('parses a W3C traceparent with its tracestate and formats it back', () => {
    const parent = parseTraceparent(
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'congo=t61rcWkgMzE',
    );
    expect(parent).toMatchObject({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: 1,
    });
    expect(parent!.traceState?.get('congo')).toBe('t61rcWkgMzE');
    expect(formatTraceparent(parent!)).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  });

  it('rejects malformed and all-zero traceparents', () => {
    for (const bad of [
      'garbage',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
    ])
      expect(parseTraceparent(bad), bad).toBeUndefined();
  });

  it('parses an X-Ray header into a W3C span context', () => {
    expect(
      parseXRay('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1'),
    ).toMatchObject({
      traceId: '5759e988bd862e3fe1be46a994272793',
      spanId: '53995c3f42cd8ad8',
      traceFlags: 1,
    });
    expect(parseXRay('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1')).toBeUndefined();
    expect(
      parseXRay('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0')?.traceFlags,
    ).toBe(0);
  });

  it('prefers the request headers over the adapter carrier and carries baggage through', () => {
    const headers = new Headers({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      baggage: 'tenant=acme,region=eu%20west',
    });
    const context = extractParent(headers, {
      xRay: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    });
    expect(trace.getSpanContext(context)?.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    const baggage = propagation.getBaggage(context);
    expect(baggage?.getEntry('region')?.value).toBe('eu west');

    const out = new Headers();
    injectInto(out, trace.getSpanContext(context)!, baggage);
    expect(out.get('traceparent')).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(out.get('baggage')).toBe('tenant=acme,region=eu%20west');
  });

  it('falls back to the carrier when the headers carry no valid parent', () => {
    const context = extractParent(new Headers({ traceparent: 'nope' }), {
      traceparent: '00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00',
    });
    expect(trace.getSpanContext(context)).toMatchObject({
      traceId: '1af7651916cd43dd8448eb211c80319c',
      traceFlags: 0,
    });
    expect(trace.getSpanContext(extractParent(undefined, undefined))).toBeUndefined();
  });
});
