/**
 * The deadline that travels between functions. A Sidecarless client sends the milliseconds left
 * of its budget in {@link deadlineHeader}: a relative number rather than a timestamp, so clock
 * skew between hosts does not matter. The one error is the transit time, which lengthens the
 * receiver's view by a few milliseconds; the sender's `deadlineMargin` covers it.
 *
 * This module imports nothing, so adapters may import it without loading the outbound client.
 */

/** The request header carrying the caller's remaining budget in whole milliseconds. */
export const deadlineHeader = 'x-sidecarless-deadline-ms';

/**
 * The deadline an invocation should use given the header a caller sent: the earlier of the
 * platform's own deadline and `now + header`. Call it only for trusted callers (after mTLS or
 * JWT authentication, or inside a private network): an untrusted caller could otherwise shorten
 * your budget to nothing. A missing or malformed header leaves the platform deadline unchanged.
 *
 * @example
 * ```ts
 * import { deadlineFromHeader } from '@sidecarless/core';
 *
 * const platformDeadline = Date.now() + 30_000;
 * const deadline = deadlineFromHeader('1500', platformDeadline); // about 1.5 s from now
 * ```
 */
export function deadlineFromHeader(
  value: string | null | undefined,
  platformDeadline: number,
  now = Date.now(),
): number {
  if (value === null || value === undefined) return platformDeadline;
  // Digits only: no sign, no exponent, no fraction, at most a day (86 400 000 ms, 8 digits).
  if (!/^\d{1,8}$/.test(value)) return platformDeadline;
  return Math.min(platformDeadline, now + Number(value));
}
