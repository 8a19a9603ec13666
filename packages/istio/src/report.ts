/**
 * What became of each field: honoured (it is in the options), not honoured (reported with the
 * reason, the rest still applies), or refused (the load fails: ignoring it would weaken security
 * or the resource is invalid).
 */

export type FieldStatus = 'honoured' | 'not-honoured' | 'refused';

export interface Finding {
  /** `VirtualService shop/reviews`. */
  readonly resource: string;
  /** The file it came from, with the document's index when the file holds several. */
  readonly source: string;
  /** `spec.http[0].corsPolicy`. */
  readonly path: string;
  readonly status: FieldStatus;
  readonly reason: string | undefined;
}

/** The findings of one load. */
export class Report {
  readonly findings: Finding[] = [];

  add(resource: string, source: string, path: string, status: FieldStatus, reason?: string): void {
    this.findings.push({ resource, source, path, status, reason });
  }

  /** Whether everything given will be honoured (what `sidecarless check` exits 0 on). */
  get complete(): boolean {
    return this.findings.every((finding) => finding.status === 'honoured');
  }

  get refused(): readonly Finding[] {
    return this.findings.filter((finding) => finding.status === 'refused');
  }

  /** One line per finding that is not honoured: `VirtualService shop/reviews: spec.http[0].corsPolicy: not honoured in-process`. */
  lines(): string[] {
    return this.findings
      .filter((finding) => finding.status !== 'honoured')
      .map(
        (finding) =>
          `${finding.resource}: ${finding.path}: ${finding.status === 'refused' ? 'refused' : 'not honoured'}${finding.reason ? ` — ${finding.reason}` : ''}`,
      );
  }
}

/**
 * Tracks which fields of a resource the mapping used, so every leaf of its spec ends up in the
 * report: the ones used honoured, the others not honoured with the reason the mapping gave (or a
 * generic one).
 */
export class FieldTracker {
  readonly #used = new Set<string>();
  readonly #reasons = new Map<string, { status: FieldStatus; reason: string }>();

  /** Marks `path` (and everything under it) as honoured. */
  use(path: string): void {
    this.#used.add(path);
  }

  /** Marks `path` (and everything under it) as not honoured, or refused, with its reason. */
  skip(path: string, reason: string, status: FieldStatus = 'not-honoured'): void {
    this.#reasons.set(path, { status, reason });
  }

  /** Reports every leaf of `value` under `root` (`spec`). */
  report(report: Report, resource: string, source: string, root: string, value: unknown): void {
    type Decision = { status: FieldStatus; reason: string | undefined };
    const walk = (path: string, node: unknown, inherited: Decision | undefined) => {
      const own = this.#own(path) ?? inherited;
      // An empty object or list holds nothing to honour or not (an ALLOW policy with no rules is
      // a rule in itself: the resource's own finding says so below).
      const empty =
        (Array.isArray(node) && node.length === 0) ||
        (node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length === 0);
      if (empty && own === undefined) return;
      // A decision about something inside this node is more specific: look inside.
      const leaf =
        !(Array.isArray(node) && node.length > 0) &&
        !(node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0);
      if (leaf || (own !== undefined && !this.#decidesInside(path))) {
        report.add(
          resource,
          source,
          path,
          own?.status ?? 'not-honoured',
          own ? own.reason : 'not supported by Sidecarless',
        );
        return;
      }
      if (Array.isArray(node)) {
        node.forEach((child, index) => {
          walk(`${path}[${index}]`, child, own);
        });
      } else for (const [key, child] of Object.entries(node as object)) walk(`${path}.${key}`, child, own);
    };
    const before = report.findings.length;
    walk(root, value, undefined);
    // A resource with nothing in it (an allow-nothing policy, `spec: {}`) is honoured as a whole.
    if (report.findings.length === before) report.add(resource, source, root, 'honoured');
  }

  #own(path: string): { status: FieldStatus; reason: string | undefined } | undefined {
    const reason = this.#reasons.get(path);
    if (reason) return reason;
    if (this.#used.has(path)) return { status: 'honoured', reason: undefined };
    return undefined;
  }

  #decidesInside(path: string): boolean {
    const inside = (candidate: string) =>
      candidate.startsWith(`${path}.`) || candidate.startsWith(`${path}[`);
    for (const candidate of this.#used) if (inside(candidate)) return true;
    for (const candidate of this.#reasons.keys()) if (inside(candidate)) return true;
    return false;
  }
}
