/**
 * OpenFaaS secrets: each one is a file under `/var/openfaas/secrets/<name>`, mounted from a
 * Kubernetes secret listed under `secrets:` in stack.yml.
 */
import { join } from 'node:path';
import { SidecarlessError } from '@sidecarless/core';

/**
 * Where OpenFaaS mounts function secrets.
 *
 * @example
 * ```ts
 * import { defaultSecretsDirectory } from '@sidecarless/openfaas';
 *
 * console.log(defaultSecretsDirectory); // "/var/openfaas/secrets"
 * ```
 */
export const defaultSecretsDirectory = '/var/openfaas/secrets';

/** Reads OpenFaaS secrets by name. */
export interface OpenFaasSecrets {
  /** The directory secrets are read from. */
  readonly directory: string;
  /** The file path of secret `name` (for options that take a path, such as TLS material). */
  path(name: string): string;
  /** The secret's content as UTF-8 text, with one trailing newline removed. */
  read(name: string): string;
  /** The secret's raw bytes. */
  readBytes(name: string): Buffer;
}

const secretName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkName(name: string): void {
  // Kubernetes secret keys are [-._a-zA-Z0-9]+; refusing anything else also refuses "../x".
  if (!secretName.test(name) || name.includes('..'))
    throw new SidecarlessError(
      'SCL_ERR_SECRET_NAME',
      `secret name ${JSON.stringify(name.slice(0, 64))} is not valid; use letters, digits, ".", "_" and "-"`,
    );
}

/**
 * Secrets mounted by OpenFaaS. The directory is `options.directory`, else
 * `SIDECARLESS_SECRETS_DIR`, else `/var/openfaas/secrets`.
 *
 * @example
 * ```ts
 * import { secrets } from '@sidecarless/openfaas';
 *
 * const store = secrets();
 * const jwtKey = store.read('jwt-public-key');     // /var/openfaas/secrets/jwt-public-key
 * const caPath = store.path('mesh-ca');             // for options that want a file path
 * ```
 */
export function secrets(options: { directory?: string } = {}): OpenFaasSecrets {
  const directory = options.directory ?? process.env.SIDECARLESS_SECRETS_DIR ?? defaultSecretsDirectory;
  const path = (name: string): string => {
    checkName(name);
    return join(directory, name);
  };
  const readBytes = (name: string): Buffer => {
    const file = path(name);
    try {
      // Fetched, not imported: an ES-module import of node:fs loads its file streams at start.
      return process.getBuiltinModule('node:fs').readFileSync(file);
    } catch (error) {
      // The message names the secret and the fix, never its content.
      throw new SidecarlessError(
        'SCL_ERR_SECRET_MISSING',
        `secret "${name}" is not mounted at ${file}; add it under "secrets:" in stack.yml and create it with "faas-cli secret create ${name}"`,
        { cause: error },
      );
    }
  };
  return {
    directory,
    path,
    readBytes,
    read: (name) =>
      readBytes(name)
        .toString('utf8')
        .replace(/\r?\n$/, ''),
  };
}
