/**
 * The path authorization policies match: the request target's path normalised the way Istio's
 * strictest option, `DECODE_AND_MERGE_SLASHES`, does it, in Istio's order —
 *   1. percent-decode, once (no double decoding): `%2F` `%5C` and the unreserved characters
 *      (`A–Z a–z 0–9 - . _ ~`); every other escape stays as it is; `%00` is refused;
 *   2. backslashes become slashes, and dot segments (`.`, `..`) are removed (RFC 3986 §5.2.4;
 *      `..` never climbs above the root);
 *   3. runs of slashes are merged.
 * So `/public/..%2Fadmin`, `/public\..\admin`, `//admin` and `/%61dmin` are all `/admin` to a
 * policy. The handler is given the same normalised path (as Istio forwards it), so what the
 * policy checked is what the handler routes on.
 */

// Cheap test first: a target without `%`, `\`, `//` or a dot segment is already normal (the URL
// parser removed the plain dot segments). ~20 ns, against ~0.5 µs for the full normalisation.
const mayChange = /%|\\|\/\/|\/\.\.?(?:\/|$)/;
const percentEscape = /%([0-9A-Fa-f]{2})/g;

function decodeOnce(path: string): string | undefined {
  let refused = false;
  const decoded = path.replace(percentEscape, (whole, hex: string) => {
    const code = Number.parseInt(hex, 16);
    if (code === 0) refused = true;
    const char = String.fromCharCode(code);
    return /[A-Za-z0-9\-._~/\\]/.test(char) ? char : whole;
  });
  return refused ? undefined : decoded;
}

function removeDotSegments(path: string): string {
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '..') {
      if (out.length > 0) out.pop();
      if (last) out.push('');
    } else {
      out.push(segment);
    }
  }
  return `/${out.join('/')}`;
}

/**
 * Normalises a request path for policy matching; `undefined` when the path cannot be evaluated
 * (it holds `%00`, or does not start with `/`) — the caller refuses the request.
 *
 * @example
 * ```ts no-check
 * policyPath('/public/..%2Fadmin'); // '/admin'
 * policyPath('/a//b/./c'); // '/a/b/c'
 * ```
 */
export function policyPath(path: string): string | undefined {
  if (path.charCodeAt(0) !== 0x2f /* / */) return undefined;
  if (!mayChange.test(path)) return path;
  const decoded = decodeOnce(path);
  if (decoded === undefined) return undefined;
  return removeDotSegments(decoded.replaceAll('\\', '/')).replace(/\/{2,}/g, '/');
}
