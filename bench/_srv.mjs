import { createMesh, LazyResponse } from '@sidecarless/core';
import { knative } from '@sidecarless/knative';
const mesh = createMesh({ service: 'bench', logging: { level: 'silent' } });
const server = knative(mesh, () => new LazyResponse('hello'), { port: 0 });
const { port } = await server.listen();
console.log(port);
process.on("SIGTERM", () => process.exit(0));
