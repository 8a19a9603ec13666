/**
 * What every function of the order-processing mesh reads from its environment. The demo sets
 * these for the local processes; the manifests in deploy/ set the same names on the platforms.
 */

/**
 * SPIFFE identities of the four functions, and of `warehouse` — the system outside the functions
 * that reports stock changes (the demo plays it). The demo CA puts them in the certificates' URI SANs.
 */
export const spiffe = {
  orders: 'spiffe://cluster.local/ns/shop/sa/orders',
  inventory: 'spiffe://cluster.local/ns/shop/sa/inventory',
  payments: 'spiffe://cluster.local/ns/shop/sa/payments',
  notifications: 'spiffe://cluster.local/ns/shop/sa/notifications',
  warehouse: 'spiffe://cluster.local/ns/shop/sa/warehouse',
} as const;

/**
 * The principal Istio (and `auth.policies[].rules[].from[].source.principals`) names a workload
 * by: its SPIFFE ID without the scheme, `cluster.local/ns/shop/sa/orders`.
 */
export function principal(spiffeId: string): string {
  return spiffeId.replace(/^spiffe:\/\//, '');
}

/** Reads a required variable, naming it when it is missing. */
export function required(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set; the demo (or the deployment manifest) sets it`);
  return value;
}

/**
 * The telemetry section every function shares: traces to the OTLP endpoint; Prometheus metrics
 * on `METRICS_PORT` when it is set (bound to `METRICS_HOST`, default 127.0.0.1; the cluster
 * manifests set 0.0.0.0 so Prometheus can scrape the pod), else the platform's default (EMF on
 * Lambda, Prometheus on :9464 elsewhere).
 */
export function telemetryFromEnv(env: NodeJS.ProcessEnv = process.env) {
  const port = env.METRICS_PORT;
  const host = env.METRICS_HOST;
  return {
    tracing: { exporter: 'otlp' as const, endpoint: required('OTLP_TRACES_ENDPOINT', env) },
    metrics: port ? { exporter: 'prometheus' as const, port: Number(port), ...(host ? { host } : {}) } : true,
  };
}

/**
 * This function's mTLS material as file paths (Kubernetes and OpenFaaS secrets are files), or
 * undefined when `MESH_CERT_FILE` is not set — then the platform secures the hop instead
 * (see the README's deployment notes).
 */
export function tlsFilesFromEnv(env: NodeJS.ProcessEnv = process.env) {
  if (!env.MESH_CERT_FILE) return undefined;
  return {
    ca: required('MESH_CA_FILE', env),
    cert: required('MESH_CERT_FILE', env),
    key: required('MESH_KEY_FILE', env),
  };
}

/**
 * The addresses of proxies whose `x-forwarded-client-cert` header is believed (`TRUSTED_PROXIES`,
 * comma-separated), for a function that does not terminate mTLS itself and learns its caller
 * from a proxy in its pod. Empty when unset: then only a TLS connection the function terminated
 * gives a peer identity.
 */
export function trustedProxiesFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  return (env.TRUSTED_PROXIES ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/**
 * Where this function reads the namespace's mesh policy: deploy/mesh-policy.yaml, the Istio
 * resources a sidecar would read, mounted as a ConfigMap (Knative), an OpenFaaS secret, or a
 * Lambda layer (`MESH_POLICY_DIR`). The `istio` feature loads it at init and follows changes.
 */
export function meshPolicyFromEnv(env: NodeJS.ProcessEnv = process.env) {
  return { files: [required('MESH_POLICY_DIR', env)], namespace: 'shop' };
}
