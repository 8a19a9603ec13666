// The payments function on OpenFaaS. Two listeners in one process, one mesh, one handler:
// - the watchdog's upstream (of-watchdog HTTP mode: plain HTTP on http_port), the path the
//   OpenFaaS gateway invokes. No client certificate can cross the gateway and the watchdog, so
//   payments' STRICT peer authentication refuses charges that arrive this way.
// - the mesh port (MESH_PORT): payments terminates mTLS itself, so the caller's verified
//   certificate reaches the auth stage as ctx.peer. This is the path orders charges through.
// With mesh certificates configured and no MESH_PORT, it refuses to start: never plaintext only.
import { openfaas } from '@sidecarless/openfaas';
import { required } from '../functions/environment.ts';
import { createPaymentsHandler, createPaymentsMesh } from '../functions/payments.ts';
import { mutualTlsServerOptions } from './server-tls.ts';

const mesh = createPaymentsMesh();
const handler = createPaymentsHandler();
// Signals are handled below, once for both listeners: each server exiting on its own could
// end the process while the other is still draining.
const own = { shutdownSignals: false, exitOnShutdown: false } as const;
const servers = [openfaas(mesh, handler, own)];
const { tls } = mutualTlsServerOptions();
if (tls) {
  const port = Number(required('MESH_PORT'));
  servers.push(openfaas(mesh, handler, { ...own, tls, port, host: process.env.MESH_HOST ?? '127.0.0.1' }));
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    mesh.log.info({ signal }, 'shutdown signal: draining both listeners');
    void Promise.all(servers.map((server) => server.close())).finally(() => process.exit(0));
  });
}
await Promise.all(servers.map((server) => server.listen()));
