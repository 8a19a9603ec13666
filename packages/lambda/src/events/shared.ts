/** What every event-source wrapper shares: checking the batch shape and the bounded flush. */
import { ErrorCodes, type Mesh, SidecarlessError } from '@sidecarless/core';

/** The records of a batch event, or a clear error naming the source that was expected. */
export function recordsOf<R>(
  event: unknown,
  source: string,
  check: (record: unknown) => boolean,
): readonly R[] {
  const records = (event as { Records?: unknown } | null)?.Records;
  if (!Array.isArray(records) || records.length === 0 || !records.every(check)) {
    throw new SidecarlessError(
      ErrorCodes.badRequest,
      `lambda.${source}(): expected an ${source.toUpperCase()} event with a non-empty Records array of ${source.toUpperCase()} records`,
      { status: 400 },
    );
  }
  return records as R[];
}

/** Logs a refused event once, on the mesh's logger, without its content. */
export function logRefused(mesh: Mesh, requestId: string, error: unknown): void {
  mesh.log.warn({ invocation_id: requestId, reason: (error as Error).message }, 'event refused');
}
