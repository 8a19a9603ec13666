// The smallest mesh handler worth measuring: core, the Lambda adapter and auth.
import { auth } from '@sidecarless/auth';
import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh(
  { service: 'small', auth: { jwt: [{ issuer: 'https://id.test', jwks: { keys: [] } }] } },
  [auth],
);

export const handler = lambda(mesh, async (request) =>
  Response.json({ path: new URL(request.url).pathname }),
);
