/**
 * Node's heavier built-in modules, fetched when first used instead of imported.
 *
 * Two costs make a static `import … from 'node:http'` expensive at cold start:
 * - In an ES module, importing a built-in builds its ES-module facade, which reads every export.
 *   `node:http`'s `WebSocket`, `CloseEvent` and `MessageEvent` are lazy getters, so the facade
 *   loads Node's whole bundled Fetch/WebSocket implementation: ~40 ms on Node 22 and 24 for one
 *   `STATUS_CODES`. `node:crypto` (its `webcrypto` getters) and `node:tls` cost 7–13 ms each, and
 *   `node:fs` (its `ReadStream`/`WriteStream` getters load the file streams) several more.
 * - Bundled into one ES module file (how most Lambda functions ship), the static imports of every
 *   lazily loaded feature are hoisted to the top of the bundle and run at start, configured or
 *   not.
 *
 * `process.getBuiltinModule` returns the module itself, with no facade, and only when called:
 * the kernel calls it on first use, a feature module when it loads. Built-ins whose facade costs
 * nothing measurable (`node:path`, `node:events`, `node:async_hooks`, `node:diagnostics_channel`,
 * `node:buffer`) are imported as usual. A test
 * (startup-builtins.test.ts) keeps the kernel from loading the heavy ones at start.
 */
interface HeavyBuiltins {
  'node:crypto': typeof import('node:crypto');
  'node:dns/promises': typeof import('node:dns/promises');
  'node:fs': typeof import('node:fs');
  'node:http': typeof import('node:http');
  'node:https': typeof import('node:https');
  'node:net': typeof import('node:net');
  'node:tls': typeof import('node:tls');
}

/** The built-in module `id`, loaded now if nothing loaded it yet. */
export function nodeBuiltin<Id extends keyof HeavyBuiltins>(id: Id): HeavyBuiltins[Id] {
  return process.getBuiltinModule(id);
}
