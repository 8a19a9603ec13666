/**
 * TLS for one upstream: material from PEM text or files, the server identity check
 * (`subjectAltNames` against SPIFFE URI or DNS SANs, else the host name), and rotation — files are
 * watched and the connector rebuilt, so the next connection uses the new certificate while pooled
 * connections finish undisturbed. A reload that fails (a half-written file) keeps the previous
 * material and is reported; it never drops to plaintext.
 */

import type { FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { ConfigError } from '@sidecarless/core';
import { nodeBuiltin } from '@sidecarless/core/feature';
import type { buildConnector as BuildConnectorType } from 'undici';
import { tlsReloadChannel } from '../events.js';
import type { NormalizedUpstream } from '../options.js';
import { buildConnector } from './undici-parts.js';

const { readFileSync, watch } = nodeBuiltin('node:fs');
const { isIP } = nodeBuiltin('node:net');
const { checkServerIdentity, createSecureContext } = nodeBuiltin('node:tls');

type TlsConfig = NonNullable<NormalizedUpstream['tls']>;

function isPem(material: string): boolean {
  return material.includes('-----BEGIN ');
}

/** Reads PEM text or a file; a file that cannot be read is reported with its option path, never its content. */
function read(material: string | undefined, path: string): string | undefined {
  if (material === undefined) return undefined;
  if (isPem(material)) return material;
  try {
    return readFileSync(material, 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'unreadable';
    throw new ConfigError([
      {
        path,
        message: `cannot read ${JSON.stringify(material)} (${code}); give PEM text or the path of a readable file`,
      },
    ]);
  }
}

/**
 * Checks the server certificate: with `subjectAltNames`, one of them must appear as a URI or DNS
 * SAN (Istio's workload pinning, which replaces the host name check); otherwise Node's host name check.
 */
export function serverIdentityCheck(expectedHost: string, subjectAltNames: readonly string[]) {
  return function checkUpstreamIdentity(_host: string, cert: PeerCertificate): Error | undefined {
    if (subjectAltNames.length === 0) return checkServerIdentity(expectedHost, cert);
    const present = (cert.subjectaltname ?? '')
      .split(', ')
      .map((entry) => entry.replace(/^(URI|DNS|IP Address):/, ''));
    if (subjectAltNames.some((wanted) => present.includes(wanted))) return undefined;
    const error = new Error(
      `the server presented ${present.length > 0 ? present.join(', ') : 'no SANs'}; expected one of ${subjectAltNames.join(', ')}`,
    ) as Error & { code: string };
    error.code = 'SCL_ERR_UPSTREAM_TLS_WRONG_SAN';
    return error;
  };
}

type Connector = ReturnType<typeof BuildConnectorType>;
type Material = { ca?: string; cert?: string; key?: string; minVersion: 'TLSv1.2' | 'TLSv1.3' };

/**
 * Holds the TLS material of one upstream and builds a connector per pool from it. undici's
 * connector takes its TLS options (and keeps its session cache) at build time, so a rotation
 * bumps a version and each pool's connector is rebuilt on its next connection — which also drops
 * cached sessions, so a resumed session cannot carry the old client certificate on.
 */
export class TlsConnector {
  readonly #config: TlsConfig;
  readonly #upstream: string;
  readonly #base: { timeout: number; keepAlive: boolean; keepAliveInitialDelay: number; allowH2: boolean };
  readonly #watchers: FSWatcher[] = [];
  #material: Material;
  #version = 0;
  /**
   * MUTUAL over TLS 1.3: the server judges our certificate after the handshake has completed on
   * our side, and answers a refusal by closing the connection — the alert rarely reaches us as an
   * error. A server that accepts us sends a session ticket first. So per live connection (keyed by
   * local port, which undici's socket errors carry) we note whether a ticket arrived: a close with
   * no response and no ticket means our client certificate was refused.
   */
  readonly #ticketByPort = new Map<number, boolean>();
  #reloadTimer: NodeJS.Timeout | undefined;

  constructor(
    upstream: string,
    config: TlsConfig,
    base: { timeout: number; keepAlive: boolean; keepAliveInitialDelay: number; allowH2: boolean },
  ) {
    this.#upstream = upstream;
    this.#config = config;
    this.#base = base;
    // The first load throws: a missing or unreadable file at start is a configuration error.
    this.#material = this.#load();
    this.#watch();
  }

  /** The `connect` function handed to an undici Pool; `expectedHost` is the logical host name. */
  connectFor(expectedHost: string): Connector {
    const servername = this.#config.sni ?? (isIP(expectedHost) ? undefined : expectedHost);
    const checkServerIdentity = serverIdentityCheck(
      this.#config.sni ?? expectedHost,
      this.#config.subjectAltNames,
    );
    let built: Connector | undefined;
    let builtVersion = -1;
    return (options, callback) => {
      if (builtVersion !== this.#version || !built) {
        built = buildConnector({
          ...this.#base,
          ...this.#material,
          ...(servername === undefined ? {} : { servername }),
          rejectUnauthorized: true,
          checkServerIdentity,
        } as BuildConnectorType.BuildOptions);
        builtVersion = this.#version;
      }
      if (this.#config.mode !== 'MUTUAL') return built(options, callback);
      return built(options, (error, socket) => {
        if (socket) this.#track(socket as TLSSocket);
        callback(error as never, socket as never);
      });
    };
  }

  /** Whether a socket error means the server refused our client certificate (see the field above). */
  refusedClientCertificate(error: unknown): boolean {
    const port = (error as { socket?: { localPort?: unknown } } | null)?.socket?.localPort;
    return typeof port === 'number' && this.#ticketByPort.get(port) === false;
  }

  #track(socket: TLSSocket): void {
    const port = socket.localPort;
    if (port === undefined || socket.getProtocol() !== 'TLSv1.3') return;
    this.#ticketByPort.set(port, false);
    socket.once('session', () => this.#ticketByPort.set(port, true));
    socket.once('close', () => {
      // Kept a moment after close: undici reports the error from the same close.
      setTimeout(() => this.#ticketByPort.delete(port), 1_000).unref();
    });
  }

  /** Re-reads the files now (also what the watcher calls). Keeps the old material when the new one is invalid. */
  reload(): boolean {
    try {
      this.#material = this.#load();
      this.#version++;
      if (tlsReloadChannel.hasSubscribers)
        tlsReloadChannel.publish({ upstream: this.#upstream, ok: true, error: undefined });
      return true;
    } catch (error) {
      if (tlsReloadChannel.hasSubscribers)
        tlsReloadChannel.publish({ upstream: this.#upstream, ok: false, error: (error as Error).message });
      return false;
    }
  }

  close(): void {
    for (const watcher of this.#watchers) watcher.close();
    if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
  }

  #load(): Material {
    const at = `upstreams.${this.#upstream}.tls`;
    const ca = read(this.#config.caCertificates, `${at}.caCertificates`);
    const cert = read(this.#config.clientCertificate, `${at}.clientCertificate`);
    const key = read(this.#config.privateKey, `${at}.privateKey`);
    const material: Material = {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      minVersion: this.#config.minVersion,
    };
    // Fails here, not on the next connection, when a certificate is unreadable or does not match its key.
    try {
      createSecureContext(material);
    } catch (error) {
      // OpenSSL's message names the problem (bad PEM, key mismatch) and never contains key material.
      throw new ConfigError([
        {
          path: at,
          message: `the certificate material is unusable: ${(error as Error).message}; check the PEM files`,
        },
      ]);
    }
    return material;
  }

  #watch(): void {
    const files = [
      this.#config.caCertificates,
      this.#config.clientCertificate,
      this.#config.privateKey,
    ].filter((m): m is string => m !== undefined && !isPem(m));
    // Watch the directories: Kubernetes and OpenFaaS swap secret files by replacing a symlink, which
    // a watch on the file itself would miss.
    const directories = new Map<string, Set<string>>();
    for (const file of files) {
      const names = directories.get(dirname(file)) ?? new Set();
      names.add(basename(file));
      directories.set(dirname(file), names);
    }
    for (const directory of directories.keys()) {
      const watcher = watch(directory, { persistent: false }, () => this.#scheduleReload());
      watcher.on('error', () => {});
      this.#watchers.push(watcher);
    }
  }

  #scheduleReload(): void {
    // Writers replace a certificate and its key as two files; wait for both before reloading.
    if (this.#reloadTimer) clearTimeout(this.#reloadTimer);
    this.#reloadTimer = setTimeout(() => this.reload(), 50);
    this.#reloadTimer.unref();
  }
}
