import { describe, expect, it } from 'vitest';
import { parseGoDuration } from './go-duration.ts';

describe('parseGoDuration', () => {
  it('reads Go durations the watchdog accepts', () => {
    expect(parseGoDuration('10s')).toBe(10_000);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('300ms')).toBe(300);
    expect(parseGoDuration('1500us')).toBe(1.5);
    expect(parseGoDuration('2h45m')).toBe(9_900_000);
  });

  it('reads a bare number as seconds', () => {
    expect(parseGoDuration('10')).toBe(10_000);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('2.5')).toBe(2_500);
  });

  it('refuses what Go would refuse', () => {
    for (const bad of ['', 'soon', '10 s', '-5s', '1d', 's', '10s5'])
      expect(parseGoDuration(bad)).toBeUndefined();
    expect(parseGoDuration(undefined)).toBeUndefined();
  });
});
