/** The server side of the mesh's mTLS, for the functions that terminate it themselves. */
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { tlsFilesFromEnv } from '../functions/environment.ts';

/**
 * Server options that accept only clients with a certificate from the mesh CA (a connection
 * without one fails the handshake, before any request is read), or none when this function
 * has no mesh certificates (the platform then secures the hop).
 */
export function mutualTlsServerOptions(env: NodeJS.ProcessEnv = process.env): { tls?: ServerOptions } {
  const files = tlsFilesFromEnv(env);
  if (!files) return {};
  return {
    tls: {
      ca: readFileSync(files.ca),
      cert: readFileSync(files.cert),
      key: readFileSync(files.key),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
  };
}
