/** The server side of the mesh's mTLS, for the functions that terminate it themselves. */
import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import { tlsFilesFromEnv } from '../functions/environment.ts';

/**
 * TLS options that accept only clients with a certificate from the mesh CA: a connection
 * without one fails the handshake, before any request is read.
 */
export function mutualTlsServerOptions(env: NodeJS.ProcessEnv = process.env): ServerOptions {
  const files = tlsFilesFromEnv(env);
  return {
    ca: readFileSync(files.ca),
    cert: readFileSync(files.cert),
    key: readFileSync(files.key),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}
