/**
 * TLS for one upstream: material from PEM text or files, the server identity check
 * (`subjectAltNames` against SPIFFE URI or DNS SANs, else the host name), and rotation — files are
 * watched and the connector rebuilt, so the next connection uses the new certificate while pooled
 * connections finish undisturbed. A reload that fails (a half-written file) keeps the previous
 * material and is reported; it never drops to plaintext.
 */
import { readFileSync, type FSWatcher, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { checkServerIdentity, createSecureContext, type PeerCertificate } from 'node:tls';
import { buildConnector } from 'undici';
import type { NormalizedUpstream } from '../options/upstreams.js';
import { tlsReloadChannel } from './events.js';

type TlsConfig = NonNullable<NormalizedUpstream['tls']>;

function isPem(material: string): boolean {
  return material.includes('-----BEGIN ');
}

function read(material: string | undefined): string | undefined {
  if (material === undefined) return undefined;
  return isPem(material) ? material : readFileSync(material, 'utf8');
}

/**
 * Checks the server certificate: with `subjectAltNames`, one of them must appear as a URI or DNS
 * SAN (Istio's workload pinning, which replaces the host name check); otherwise Node's host name check.
 */
export function serverIdentityCheck(expectedHost: string, subjectAltNames: readonly string[]) {
  return function checkUpstreamIdentity(_host: string, cert: PeerCertificate): Error | undefined {
    if (subjectAltNames.length === 0) return checkServerIdentity(expectedHost, cert);
    const present = (cert.subjectaltname ?? '').split(', ').map((entry) => entry.replace(/^(URI|DNS|IP Address):/, ''));
    if (subjectAltNames.some((wanted) => present.includes(wanted))) return undefined;
    const error = new Error(
      `the server presented ${present.length > 0 ? present.join(', ') : 'no SANs'}; expected one of ${subjectAltNames.join(', ')}`,
    ) as Error & { code: string };
    error.code = 'SCL_ERR_UPSTREAM_TLS_WRONG_SAN';
    return error;
  };
}

type Connector = ReturnType<typeof buildConnector>;

/** Builds and rebuilds the connector of one TLS upstream. */
export class TlsConnector {
  readonly #config: TlsConfig;
  readonly #upstream: string;
  readonly #base: { timeout: number; keepAlive: boolean; keepAliveInitialDelay?: number };
  readonly #watchers: FSWatcher[] = [];
  #connector: Connector;
  #reloadTimer: NodeJS.Timeout | undefined;

  constructor(
    upstream: string,
    config: TlsConfig,
    base: { timeout: number; keepAlive: boolean; keepAliveInitialDelay?: number },
  ) {
    this.#upstream = upstream;
    this.#config = config;
    this.#base = base;
    // The first load throws: a missing or unreadable file at start is a configuration error.
    this.#connector = this.#build();
    this.#watch();
  }

  /** The `connect` function handed to an undici Pool; `expectedHost` is the logical host name. */
  connectFor(expectedHost: string): Connector {
    const servername = this.#config.sni ?? expectedHost;
    const check = serverIdentityCheck(servername, this.#config.subjectAltNames);
    return (options, callback) =>
      this.#connector({ ...options, servername, checkServerIdentity: check } as Parameters<Connector>[0], callback);
  }

  /** Re-reads the files now (also what the watcher calls). Keeps the old material when the new one is invalid. */
  reload(): boolean {
    try {
      this.#connector = this.#build();
      if (tlsReloadChannel.hasSubscribers) tlsReloadChannel.publish({ upstream: this.#upstream, ok: true, error: undefined });
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

  #build(): Connector {
    const ca = read(this.#config.caCertificates);
    const cert = read(this.#config.clientCertificate);
    const key = read(this.#config.privateKey);
    const material = {
      ...(ca === undefined ? {} : { ca }),
      ...(cert === undefined ? {} : { cert }),
      ...(key === undefined ? {} : { key }),
      minVersion: this.#config.minVersion,
    };
    // Fails here, not on the next connection, when a certificate and key do not match.
    createSecureContext(material);
    return buildConnector({ ...this.#base, ...material, rejectUnauthorized: true } as buildConnector.BuildOptions);
  }

  #watch(): void {
    const files = [this.#config.caCertificates, this.#config.clientCertificate, this.#config.privateKey].filter(
      (m): m is string => m !== undefined && !isPem(m),
    );
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
