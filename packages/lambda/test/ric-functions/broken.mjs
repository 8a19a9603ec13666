// A handler module whose init fails: the options check throws at wrap time.
import { createMesh } from '@sidecarless/core';
import { lambda } from '@sidecarless/lambda';

const mesh = createMesh({ service: 'ric-broken' });
export const handler = lambda(mesh, async () => new Response('never'), { safetyMargin: 'soon' });
