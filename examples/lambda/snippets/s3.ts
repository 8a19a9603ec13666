import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'thumbnails' });

export const handler = lambda.s3(mesh, async (record, ctx) => {
  // `decodedKey` undoes S3's form encoding ("my+photo.jpg" is "my photo.jpg").
  ctx.log.info({ bucket: record.s3.bucket.name, key: record.decodedKey }, record.eventName);
});
