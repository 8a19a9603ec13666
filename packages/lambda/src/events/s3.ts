/** S3 notifications: one handler call per record, with the object key decoded. */
import type { ConfigIssue, EventHandler, Mesh } from '@sidecarless/core';
import { prepareEvent } from '@sidecarless/core/adapter';
import { checkContext, factsOf, flushWithin } from '../invocation.js';
import { checkWrapperOptions, isWarmupEvent, type LambdaWrapperOptions, throwIssues } from '../options.js';
import type { LambdaContext, LambdaRaw, S3Event, S3Record } from '../types.js';
import { logRefused, recordsOf } from './shared.js';

/** An S3 record as the handler sees it: `decodedKey` is the object key S3 URL-encoded. */
export type S3Notification = S3Record & { readonly decodedKey: string };

function isS3Record(record: unknown): boolean {
  const s3 = (record as Partial<S3Record> | null)?.s3;
  return (
    typeof s3 === 'object' &&
    s3 !== null &&
    typeof s3.bucket?.name === 'string' &&
    typeof s3.object?.key === 'string'
  );
}

/** S3 encodes keys as form data: `+` for spaces, percent escapes for the rest. */
function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}

/**
 * Wraps an S3 notification handler. Records run in order; the first error is thrown back to
 * Lambda (S3 invokes asynchronously, so Lambda retries the event).
 *
 * @example
 * ```ts
 * import { createMesh } from '@sidecarless/core';
 * import { lambda } from '@sidecarless/lambda';
 *
 * const mesh = createMesh({ service: 'thumbnails' });
 * export const handler = lambda.s3(mesh, async (record, ctx) => {
 *   ctx.log.info({ bucket: record.s3.bucket.name, key: record.decodedKey }, record.eventName);
 * });
 * ```
 */
export function s3(
  mesh: Mesh,
  handler: EventHandler<S3Notification, unknown, LambdaRaw<S3Event>>,
  options: LambdaWrapperOptions = {},
): (event: unknown, context: LambdaContext) => Promise<void> {
  const issues: ConfigIssue[] = [];
  const common = checkWrapperOptions(mesh, options, 'lambda.s3', [], issues);
  throwIssues(issues);
  const run = prepareEvent(mesh, handler);
  return async function sidecarlessS3Handler(event, context) {
    checkContext(context);
    if (isWarmupEvent(event, common.isWarmup)) return;
    try {
      let records: readonly S3Record[];
      try {
        records = recordsOf<S3Record>(event, 's3', isS3Record);
      } catch (error) {
        logRefused(mesh, context.awsRequestId, error);
        throw error;
      }
      const facts = factsOf(event as S3Event, context, 'datasource', common.timing);
      for (const record of records) {
        await run({ ...record, decodedKey: decodeKey(record.s3.object.key) }, facts);
      }
    } finally {
      await flushWithin(mesh, context);
    }
  };
}
