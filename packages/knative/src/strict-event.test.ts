import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { whyInvalid } from './strict-event.ts';

interface ConformanceSet {
  tests: { id: string; event: Record<string, unknown> }[];
}
const load = (name: string) =>
  JSON.parse(
    readFileSync(new URL(`../test/fixtures/cloudevents/${name}`, import.meta.url), 'utf8'),
  ) as ConformanceSet;

// The rule each invalid conformance event breaks, so a refusal for the wrong reason fails.
const expectedReason: Record<string, RegExp> = {
  invalidNoSpecVersion: /"specversion" is missing/,
  invalidNoId: /"id" is missing/,
  invalidNoType: /"type" is missing/,
  invalidNoSource: /"source" is missing/,
  invalidTimeGarbage: /"time" is not an RFC 3339/,
  invalidTimeToMinute: /"time" is not an RFC 3339/,
  invalidTimeOffsetX: /"time" is not an RFC 3339/,
  invalidTimeOffsetOutOfRange: /"time" has a field out of range/,
  invalidTimeOffsetNonInteger: /"time" is not an RFC 3339/,
  invalidTimeOffsetHourOnly: /"time" is not an RFC 3339/,
  invalidEmptyId: /"id" must not be empty/,
  invalidEmptyType: /"type" must not be empty/,
  invalidEmptySource: /"source" must not be empty/,
  invalidEmptySpecVersion: /"specversion" must not be empty/,
  invalidUnknownSpecVersion: /specversion "0\.9" is not supported/,
  invalidNonRfc2046DataContentType: /"datacontenttype" is not an RFC 2046 media type/,
  invalidEmptyDataContentType: /"datacontenttype" must not be empty/,
  invalidEmptyDataSchema: /"dataschema" must not be empty/,
  invalidEmptySubject: /"subject" must not be empty/,
  invalidNumericId: /"id" must be a string/,
  invalidObjectId: /"id" must be a string/,
  invalidCapitalizedExtension: /"MyExtension" must be lower-case/,
  invalidPunctuatedExtension: /"my\.extension" must be lower-case/,
  invalidNonIntegerExtensionValue: /"my\.extension" must be lower-case/,
  invalidBothDataAndDataBase64: /not both/,
};

describe('whyInvalid', () => {
  it.each(load('invalid-events.json').tests)('names the rule $id breaks', ({ id, event }) => {
    expect(whyInvalid(event, 'structured')).toMatch(expectedReason[id] ?? /no expectation written/);
  });

  it.each(load('valid-events.json').tests)('accepts $id', ({ event }) => {
    expect(whyInvalid(event, 'structured')).toBeUndefined();
  });

  it('refuses a fractional extension value under a valid name', () => {
    expect(
      whyInvalid({ specversion: '1.0', id: 'a', type: 't', source: '/s', myext: 1.5 }, 'structured'),
    ).toMatch(/must be an integer/);
  });
});
