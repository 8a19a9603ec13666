/**
 * Inheriting from a Fetch class (`Request`, `Response`, `Headers`) without loading Fetch.
 *
 * The lazy request, headers and response must be `instanceof` the standard classes, so their
 * prototypes inherit from the standard prototypes. But reading the global `Request`, `Response`
 * or `Headers` loads Node's whole bundled Fetch implementation: ~40 ms on Node 22, paid by the
 * first invocation of every cold start even when the handler only reads a header and the body
 * and answers with a `LazyResponse` (bench/lambda-cold-start.bench.ts).
 *
 * {@link inheritOnDemand} puts a stand-in between a class's prototype and the standard one: a
 * `Proxy` that, the first time anything walks past the class's own members — an `instanceof`
 * check, `isPrototypeOf`, a member the class does not define — links the class's prototype to
 * the standard prototype for good and answers from it. The members every lazy object defines
 * itself never reach the stand-in, so the common path loads nothing. Two kinds of lookup are
 * answered without linking, because the standard classes do not define them: `then`,
 * `Symbol.toPrimitive` and `toJSON` (looked up by `await`, string conversion and
 * `JSON.stringify` of any value), and the members of the chain's common `base`
 * (`Object.prototype` under a prototype; `Function.prototype` under a constructor, whose
 * `Symbol.hasInstance` every `instanceof` looks up).
 */

/**
 * Looked up on any value by the language and by common code, and defined by none of the Fetch
 * classes: `then` (every `await`, every promise resolved with the value), `Symbol.toPrimitive`
 * (string conversion, template literals) and `toJSON` (`JSON.stringify`).
 */
const absentFromFetch = new Set<PropertyKey>(['then', Symbol.toPrimitive, 'toJSON']);

export interface InheritOnDemandOptions {
  /** What the standard parent itself inherits from: its members are answered without linking. */
  readonly base?: object;
  /** Runs once, when linked (for wiring that itself needs the standard class). */
  readonly onLink?: () => void;
}

/** Makes `target` inherit from `parent()`, calling `parent` only when something needs it. */
export function inheritOnDemand(
  target: object,
  parent: () => object,
  { base = Object.prototype, onLink = () => {} }: InheritOnDemandOptions = {},
): void {
  const answeredWithoutLinking = (key: PropertyKey): boolean => absentFromFetch.has(key) || key in base;
  let linked: object | undefined;
  const link = (): object => {
    if (linked === undefined) {
      linked = parent();
      Object.setPrototypeOf(target, linked);
      onLink();
    }
    return linked;
  };
  const standIn = new Proxy(Object.create(null) as object, {
    getPrototypeOf: () => link(),
    get: (_standIn, key, receiver) =>
      answeredWithoutLinking(key) ? Reflect.get(base, key, receiver) : Reflect.get(link(), key, receiver),
    has: (_standIn, key) => (answeredWithoutLinking(key) ? key in base : Reflect.has(link(), key)),
    set: (_standIn, key, value, receiver) => Reflect.set(link(), key, value, receiver),
    getOwnPropertyDescriptor: (_standIn, key) => Reflect.getOwnPropertyDescriptor(link(), key),
    ownKeys: () => Reflect.ownKeys(link()),
    defineProperty: (_standIn, key, descriptor) => Reflect.defineProperty(link(), key, descriptor),
    deleteProperty: (_standIn, key) => Reflect.deleteProperty(link(), key),
  });
  Object.setPrototypeOf(target, standIn);
}
