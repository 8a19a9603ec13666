/**
 * Checks on the parts of an HTTP event a translator reads lazily (headers are read only when the
 * handler asks for them), made before the handler runs: a malformed event must be a 400 with a
 * short reason, never a `TypeError` inside the handler (a 500 that blames it) and never a
 * request that reads differently on Node 22 and Node 24.
 *
 * Cost: a few type checks and two anchored regular expressions per header — ~0.4 µs for the 15
 * headers of a typical API Gateway event, against ~60 µs for a warm invocation.
 */
import { badEvent } from './common.js';

/** A field name Fetch accepts (an RFC 9110 token). */
const fieldName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * A field value we carry: no NUL, CR or LF. Code points beyond Latin-1, which Fetch refuses, are
 * percent-encoded when the headers are built (common.ts `fieldText`); unpaired surrogates, which
 * no encoding can carry, are refused.
 */
const fieldValue = /^[^\0\r\n]*$/;

type Scalar = string | number | boolean;
/** ES2024's `String.prototype.isWellFormed` (Node 20+), not in the ES2023 library the repo targets. */
type WellFormedCheck = string & { isWellFormed(): boolean };

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a string read from the event holds no lone surrogate (it cannot be encoded in a URL or
 * in UTF-8): `where` names the field in the 400's reason.
 */
export function checkText(value: string, where: string): string {
  if (!(value as WellFormedCheck).isWellFormed())
    throw badEvent(`the event's ${where} holds an unpaired surrogate`);
  return value;
}

function checkField(name: string, value: Scalar, where: string): void {
  if (!fieldName.test(name)) throw badEvent(`the event's ${where} has a header name HTTP does not allow`);
  // The wording Fetch's own refusal gets (core's requestFromFields), so both runtimes read alike.
  if (typeof value === 'string' && (!fieldValue.test(value) || !(value as WellFormedCheck).isWellFormed()))
    throw badEvent(`the request header "${name}" is not valid`);
}

/**
 * Checks a single-value map (`headers`, `queryStringParameters`): absent, or an object whose
 * values are strings (numbers and booleans, as test events carry them, are read as text).
 */
export function checkSingleMap(map: unknown, where: string, isHeaders: boolean): void {
  if (map === undefined || map === null) return;
  if (!isMap(map)) throw badEvent(`the event's ${where} is not an object`);
  for (const name in map) {
    const value = map[name];
    if (value === undefined || value === null) continue;
    if (!isScalar(value)) throw badEvent(`the event's ${where}["${name}"] is not a string`);
    if (isHeaders) checkField(name, value, where);
    else if (typeof value === 'string') checkText(value, `${where}["${name}"]`);
    checkText(name, where);
  }
}

/**
 * Checks a multi-value map (`multiValueHeaders`, `multiValueQueryStringParameters`): absent, or
 * an object whose values are lists of strings. `acceptsText` lets a plain string stand for a
 * one-value list (VPC Lattice events are published both ways).
 */
export function checkMultiMap(map: unknown, where: string, isHeaders: boolean, acceptsText = false): void {
  if (map === undefined || map === null) return;
  if (!isMap(map)) throw badEvent(`the event's ${where} is not an object`);
  for (const name in map) {
    const values = map[name];
    if (values === undefined || values === null) continue;
    checkText(name, where);
    const list = Array.isArray(values) ? values : acceptsText && isScalar(values) ? [values] : undefined;
    if (list === undefined) throw badEvent(`the event's ${where}["${name}"] is not a list of strings`);
    for (const value of list) {
      if (!isScalar(value)) throw badEvent(`the event's ${where}["${name}"] is not a list of strings`);
      if (isHeaders) checkField(name, value, where);
      else if (typeof value === 'string') checkText(value, `${where}["${name}"]`);
    }
  }
}

/** Checks the HTTP API's `cookies`: absent, or a list of strings Fetch accepts as a header value. */
export function checkCookies(cookies: unknown): void {
  if (cookies === undefined || cookies === null) return;
  if (!Array.isArray(cookies)) throw badEvent("the event's cookies is not a list of strings");
  for (const cookie of cookies) {
    if (
      typeof cookie !== 'string' ||
      !fieldValue.test(cookie) ||
      !(cookie as WellFormedCheck).isWellFormed()
    ) {
      throw badEvent("the event's cookies holds a value HTTP does not allow");
    }
  }
}
