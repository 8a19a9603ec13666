/**
 * The labels a sidecar's workload would carry — what Istio's `selector`s and `sourceLabels` match
 * — for a function, which has no pod labels of its own to read: Istio's canonical `app` (the
 * service) and `version`, and on Knative the labels Knative puts on a revision's pods, from the
 * environment it sets (`K_SERVICE`, `K_REVISION`, `K_CONFIGURATION`).
 */
export function workloadLabels(
  service: string,
  version: string | undefined,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const labels: Record<string, string> = { app: service };
  if (version !== undefined) labels.version = version;
  const knative = [
    ['serving.knative.dev/service', env.K_SERVICE],
    ['serving.knative.dev/revision', env.K_REVISION],
    ['serving.knative.dev/configuration', env.K_CONFIGURATION],
  ] as const;
  for (const [name, value] of knative) if (value) labels[name] = value;
  return labels;
}
