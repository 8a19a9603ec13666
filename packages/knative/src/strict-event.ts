/**
 * The CloudEvents v1.0 rules the SDK does not enforce on input (it coerces ids to strings,
 * accepts "0.9", any time text, upper-case extension names…). Checked on the attributes as
 * received, before the SDK builds its object, so every refusal names the attribute and the rule.
 */

/** Spec versions accepted. */
const specVersions = new Set(['1.0', '0.3']);
const requiredStrings = ['id', 'source', 'type', 'specversion'] as const;
const optionalNonEmpty = ['datacontenttype', 'dataschema', 'subject', 'time'] as const;
// RFC 3339 date-time: full seconds required, optional fraction, `Z` or a ±hh:mm offset.
const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/;
// RFC 2046 media type: type "/" subtype, each an RFC 2045 token, then optional parameters.
const mediaType = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:\s*;.*)?$/;
const attributeName = /^[a-z0-9]+$/;
const int32 = { min: -2_147_483_648, max: 2_147_483_647 };
const contextAttributes = new Set(['id', 'source', 'type', 'specversion', ...optionalNonEmpty]);

function checkTime(value: string): string | undefined {
  const match = rfc3339.exec(value);
  if (!match) return 'is not an RFC 3339 timestamp such as "2018-04-05T17:31:00Z"';
  const [, , month, day, hour, minute, second, , , , offsetHour, offsetMinute] = match;
  const inRange =
    Number(month) >= 1 &&
    Number(month) <= 12 &&
    Number(day) >= 1 &&
    Number(day) <= 31 &&
    Number(hour) <= 23 &&
    Number(minute) <= 59 &&
    Number(second) <= 60 &&
    (offsetHour === undefined || (Number(offsetHour) <= 23 && Number(offsetMinute) <= 59));
  return inRange ? undefined : 'has a field out of range';
}

/**
 * Returns why `event` (a structured-mode JSON object, or the attributes read from binary-mode
 * headers) is not a valid CloudEvent, or undefined when it is. Attributes set to `null` count
 * as absent, as the JSON format says.
 *
 * @example
 * ```ts
 * import { whyCloudEventInvalid } from '@sidecarless/knative';
 *
 * whyCloudEventInvalid({ specversion: '1.0', id: 'a', type: 't', source: '/s', time: 'lunchtime' }, 'structured');
 * // '"time" is not an RFC 3339 timestamp such as "2018-04-05T17:31:00Z"'
 * ```
 */
export function whyInvalid(event: unknown, mode: 'structured' | 'binary'): string | undefined {
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    return 'the event is not a JSON object';
  const attributes = event as Record<string, unknown>;
  for (const name of requiredStrings) {
    const value = attributes[name];
    if (value === undefined || value === null) return `the required attribute "${name}" is missing`;
    if (typeof value !== 'string') return `"${name}" must be a string, got ${typeof value}`;
    if (value === '') return `"${name}" must not be empty`;
  }
  if (!specVersions.has(attributes.specversion as string))
    return `specversion "${String(attributes.specversion).slice(0, 16)}" is not supported; use "1.0"`;
  for (const name of optionalNonEmpty) {
    const value = attributes[name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') return `"${name}" must be a string, got ${typeof value}`;
    if (value === '') return `"${name}" must not be empty when present`;
  }
  if (typeof attributes.time === 'string') {
    const problem = checkTime(attributes.time);
    if (problem) return `"time" ${problem}`;
  }
  if (typeof attributes.datacontenttype === 'string' && !mediaType.test(attributes.datacontenttype))
    return '"datacontenttype" is not an RFC 2046 media type such as "application/json"';
  if (mode === 'structured' && attributes.data !== undefined && attributes.data_base64 !== undefined)
    return 'an event carries "data" or "data_base64", not both';
  for (const [name, value] of Object.entries(attributes)) {
    if (contextAttributes.has(name) || name === 'data' || name === 'data_base64') continue;
    if (!attributeName.test(name))
      return `extension attribute name "${name.slice(0, 32)}" must be lower-case letters and digits only`;
    if (value === null || typeof value === 'string' || typeof value === 'boolean') continue;
    if (typeof value === 'number') {
      if (Number.isInteger(value) && value >= int32.min && value <= int32.max) continue;
      return `extension "${name}" must be an integer in the 32-bit range, a boolean or a string`;
    }
    return `extension "${name}" must be a string, an integer or a boolean`;
  }
  return undefined;
}

/** Removes attributes set to `null` (the JSON format's way of saying "absent"). */
export function withoutNulls(event: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(event)) if (value !== null) out[name] = value;
  return out;
}
