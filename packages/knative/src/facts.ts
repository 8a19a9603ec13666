/** Knative's facts about the running revision, read once from the environment. */

/**
 * `K_SERVICE`, `K_REVISION` and `K_CONFIGURATION` as OpenTelemetry attributes: `faas.name`,
 * `faas.version`, and `knative.configuration`.
 *
 * @example
 * ```ts
 * knativeAttributes({ K_SERVICE: 'orders', K_REVISION: 'orders-00042' });
 * // { 'faas.name': 'orders', 'faas.version': 'orders-00042' }
 * ```
 */
export function knativeAttributes(env: NodeJS.ProcessEnv): Readonly<Record<string, string>> {
  const attributes: Record<string, string> = {};
  if (env.K_SERVICE) attributes['faas.name'] = env.K_SERVICE;
  if (env.K_REVISION) attributes['faas.version'] = env.K_REVISION;
  if (env.K_CONFIGURATION) attributes['knative.configuration'] = env.K_CONFIGURATION;
  return Object.freeze(attributes);
}

/** The port Knative tells the container to listen on (`PORT`, default 8080). */
export function knativePort(env: NodeJS.ProcessEnv): number {
  if (env.PORT === undefined || env.PORT === '') return 8080;
  const port = Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new TypeError(
      `PORT=${JSON.stringify(env.PORT)} is not a port; Knative sets it to an integer such as 8080`,
    );
  return port;
}
