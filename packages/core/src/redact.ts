/**
 * Secret censoring for every logged object: one copy-on-write walk that replaces the values of
 * secret fields, the token parameters of query strings and URLs, the secret lines of a raw HTTP
 * header block, and the values of secret headers in header-pair arrays — inside errors and their
 * nested objects too (what axios, got and the AWS SDK throw carries the request's headers).
 *
 * Key-based, not pattern-based: a walk that looks only at key names costs ~1 µs for a typical
 * line's fields, where scanning every string for token shapes would cost per byte logged and still
 * miss opaque API keys. Strings are looked into only under the keys known to hold query strings,
 * URLs or header blocks.
 */

/** What replaces a secret value. */
export const censor = '[redacted]';

/**
 * Field names that hold secrets, compared case-insensitively, whatever the options say. The
 * mesh adds the headers, cookies and parameters its JWT rules read tokens from.
 */
const defaultSecretFields = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'cookies',
  'set-cookie',
  'x-api-key',
  'x-amz-security-token',
  'token',
  'accesstoken',
  'access_token',
  'idtoken',
  'id_token',
  'refreshtoken',
  'refresh_token',
  'password',
  'secret',
  'clientsecret',
  'client_secret',
  'apikey',
  'api_key',
  'privatekey',
  'private_key',
];

/** Query parameters that carry credentials (OAuth 2.0 bearer URIs, presigned S3 URLs, API keys). */
const defaultSecretParams = [
  'access_token',
  'id_token',
  'refresh_token',
  'token',
  'api_key',
  'apikey',
  'key',
  'password',
  'client_secret',
  'x-amz-security-token',
  'x-amz-signature',
];

/**
 * Keys whose string value is looked into, by what it holds: a query string (`a=1&b=2`, an optional
 * leading `?`), a URL or request target whose query may hold a token, or a raw HTTP header block
 * (Node's `ClientRequest#_header`). One map lookup per string field.
 */
const stringKinds = new Map<string, 'query' | 'url' | 'headers'>([
  ...['rawquerystring', 'querystring', 'search'].map((key) => [key, 'query'] as const),
  ...['url', 'rawurl', 'originalurl', 'href', 'requesturl', 'uri'].map((key) => [key, 'url'] as const),
  ...['_header', 'rawheaderblock'].map((key) => [key, 'headers'] as const),
]);

/**
 * Nesting levels walked below a logged object. Beyond it the value is written as `"[...]"`:
 * a secret is never written unexamined (pino's own `depthLimit` is 5; HTTP client errors reach
 * 6–8 levels, e.g. got's `err.response.request.options.headers.authorization`).
 */
const maxDepth = 16;

/** What, besides the built-in names, one mesh treats as secret. */
export interface RedactionRules {
  /** Header, cookie and field names (any case). */
  readonly fields?: Iterable<string>;
  /** Query parameter names (any case). */
  readonly params?: Iterable<string>;
  /** Configured paths (`logging.redact`), each split into keys; `*` matches every key. */
  readonly paths?: readonly (readonly string[])[];
}

/** Censors one mesh's secrets in the objects it logs, never mutating the caller's objects. */
export class Redactor {
  readonly #fields: Set<string>;
  readonly #params: Set<string>;
  readonly #paths: readonly (readonly string[])[];

  constructor(rules: RedactionRules = {}) {
    const lower = (names: Iterable<string> | undefined) =>
      [...(names ?? [])].map((name) => name.toLowerCase());
    const params = [...defaultSecretParams, ...lower(rules.params)];
    // A configured parameter is secret as a field too (`queryStringParameters.sig`).
    this.#fields = new Set([...defaultSecretFields, ...lower(rules.fields), ...lower(rules.params)]);
    this.#params = new Set(params);
    this.#paths = rules.paths ?? [];
  }

  /**
   * Censors these fields and parameters too, from now on: a reconfigured mesh whose JWT rules
   * read tokens from new places. Redaction only widens; a name a reload drops stays censored.
   */
  widen(rules: Pick<RedactionRules, 'fields' | 'params'>): void {
    for (const name of [...(rules.fields ?? []), ...(rules.params ?? [])])
      this.#fields.add(name.toLowerCase());
    for (const name of rules.params ?? []) this.#params.add(name.toLowerCase());
  }

  /** `value` with every secret censored: the same object when it holds none, a copy when it does. */
  redact(value: unknown): unknown {
    let redacted = this.#walk(value, []);
    for (const keys of this.#paths) redacted = redactPath(redacted, keys, 0);
    return redacted;
  }

  /** `ancestors` holds the objects on the path from the root: a reference to one is a cycle. */
  #walk(value: unknown, ancestors: object[]): unknown {
    if (typeof value !== 'object' || value === null) return value;
    if (ancestors.includes(value)) return '[Circular]';
    if (ancestors.length >= maxDepth) return '[...]';
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function' && !(value instanceof Date)) {
      // What JSON.stringify would write is what must be clean (AxiosError#toJSON returns its config).
      let json: unknown;
      try {
        json = toJSON.call(value);
      } catch {
        return '[unserialisable]';
      }
      if (json !== value) {
        ancestors.push(value);
        const walked = this.#walk(json, ancestors);
        ancestors.pop();
        return walked;
      }
    }
    ancestors.push(value);
    const walked = Array.isArray(value)
      ? this.#walkArray(value, ancestors)
      : this.#walkRecord(value, ancestors);
    ancestors.pop();
    return walked;
  }

  #walkArray(array: readonly unknown[], ancestors: object[]): unknown {
    let copy: unknown[] | undefined;
    for (let i = 0; i < array.length; i++) {
      const item = array[i];
      let index = i;
      let replaced: unknown;
      if (typeof item === 'string') {
        // A flat header list (Node's rawHeaders): a secret name, then its value.
        if (
          i + 1 >= array.length ||
          typeof array[i + 1] !== 'string' ||
          !this.#fields.has(item.toLowerCase())
        )
          continue;
        index = ++i;
        replaced = censor;
      } else if (
        Array.isArray(item) &&
        item.length === 2 &&
        typeof item[0] === 'string' &&
        this.#fields.has(item[0].toLowerCase())
      ) {
        // A header pair ([...headers], Object.entries(headers)): [name, value].
        replaced = [item[0], censor];
      } else {
        replaced = this.#walk(item, ancestors);
      }
      if (replaced === array[index]) continue;
      copy ??= [...array];
      copy[index] = replaced;
    }
    return copy ?? array;
  }

  #walkRecord(value: object, ancestors: object[]): unknown {
    const record = value as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const key in record) {
      if (!Object.hasOwn(record, key)) continue;
      const original = record[key];
      const name = key.toLowerCase();
      let replaced: unknown;
      if (this.#fields.has(name)) replaced = censor;
      else if (typeof original === 'string') replaced = this.#censorString(name, original);
      else replaced = this.#walk(original, ancestors);
      if (replaced !== original) {
        copy ??= { ...record };
        copy[key] = replaced;
      }
    }
    return copy ?? value;
  }

  /** A string under `name`: its token parameters or secret header lines censored. */
  #censorString(name: string, text: string): string {
    const kind = stringKinds.get(name);
    if (kind === undefined) return text;
    if (kind === 'query') {
      const mark = text.startsWith('?') ? 1 : 0;
      return text.slice(0, mark) + this.#censorQuery(text.slice(mark));
    }
    if (kind === 'url') {
      const query = text.indexOf('?');
      if (query < 0) return text;
      const hash = text.indexOf('#', query);
      const end = hash < 0 ? text.length : hash;
      const censored = this.#censorQuery(text.slice(query + 1, end));
      return `${text.slice(0, query + 1)}${censored}${text.slice(end)}`;
    }
    return this.#censorHeaderBlock(text);
  }

  #censorQuery(query: string): string {
    if (!query.includes('=')) return query;
    const parts = query.split('&');
    let changed = false;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const equals = part.indexOf('=');
      if (equals < 0) continue;
      const rawName = part.slice(0, equals);
      if (this.#params.has(decodeName(rawName).toLowerCase())) {
        parts[i] = `${rawName}=${censor}`;
        changed = true;
      }
    }
    return changed ? parts.join('&') : query;
  }

  #censorHeaderBlock(block: string): string {
    const lines = block.split('\r\n');
    let changed = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0 || !this.#fields.has(line.slice(0, colon).trim().toLowerCase())) continue;
      lines[i] = `${line.slice(0, colon)}: ${censor}`;
      changed = true;
    }
    return changed ? lines.join('\r\n') : block;
  }
}

/** A query parameter's name, decoded (`access%5Ftoken`, `+` as a space); as written when malformed. */
function decodeName(name: string): string {
  if (!name.includes('%') && !name.includes('+')) return name;
  try {
    return decodeURIComponent(name.replaceAll('+', ' '));
  } catch {
    return name;
  }
}

/**
 * A configured redaction path (`logging.redact`), split into keys: dots and brackets as in
 * `a.b`, `a["b-c"]`, `a[0]`, with `*` for every key at that level.
 */
export function parsePath(path: string): string[] {
  const keys: string[] = [];
  const pattern = /([^.[\]]+)|\[(?:"([^"]*)"|'([^']*)'|([^\]]*))\]/g;
  for (const match of path.matchAll(pattern)) keys.push(match[1] ?? match[2] ?? match[3] ?? match[4] ?? '');
  return keys;
}

/** Censors the value at `keys` below `value` (copy on write); absent paths change nothing. */
function redactPath(value: unknown, keys: readonly string[], index: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const key = keys[index]!;
  const last = index === keys.length - 1;
  const record = value as Record<string, unknown>;
  let copy: Record<string, unknown> | unknown[] | undefined;
  for (const name of key === '*' ? Object.keys(record) : [key]) {
    if (!Object.hasOwn(record, name)) continue;
    const replaced = last ? censor : redactPath(record[name], keys, index + 1);
    if (replaced !== record[name]) {
      copy ??= Array.isArray(value) ? [...value] : { ...record };
      (copy as Record<string, unknown>)[name] = replaced;
    }
  }
  return copy ?? value;
}
