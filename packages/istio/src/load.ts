/**
 * Istio resources → mesh options, scoped to one function as Istio scopes them to a workload.
 * Sidecarless's options use Istio's field names, so most fields are copied as they are; a field
 * that is copied is honoured, a field that is not is reported with the reason, and a field whose
 * absence would weaken security (an authorization rule the mesh cannot evaluate) refuses the load.
 */

import type { AuthOptions } from '@sidecarless/auth';
import type { UpstreamOptions } from '@sidecarless/outbound';
import {
  mapped,
  parseResources,
  proxyOnly,
  type Resource,
  ResourceError,
  resourceName,
  validateSchema,
} from './documents.js';
import { FieldTracker, Report } from './report.js';

/** Whose configuration this is: the function's namespace and labels decide what applies. */
export interface IstioScope {
  /** The function's namespace. Default: `POD_NAMESPACE`, `SIDECARLESS_NAMESPACE`, else `default`. */
  namespace?: string;
  /** The function's labels (`app`, `version`, Knative's revision labels…), for `selector`s. */
  labels?: Readonly<Record<string, string>>;
  /** Istio's root namespace: its security policies apply mesh-wide. Default `istio-system`. */
  rootNamespace?: string;
}

/**
 * The mesh options a load produces: the `upstreams` section (`@sidecarless/outbound`, with
 * `/traffic` for routes and subsets) and the `auth` section (`@sidecarless/auth`), in their own
 * vocabulary — spread them into `createMesh`'s options; its checkers validate them there.
 */
export interface IstioOptions {
  upstreams?: Record<string, UpstreamOptions>;
  auth?: AuthOptions;
}

/** What a load gives: the options to pass to `createMesh`, and what became of every field. */
export interface IstioLoad {
  readonly options: IstioOptions;
  readonly report: Report;
  /** Resources that applied to this function, by `kind namespace/name`. */
  readonly applied: readonly string[];
  /** Resources that did not (another namespace, a selector that does not match), with why. */
  readonly skipped: readonly { readonly resource: string; readonly reason: string }[];
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `reviews` in `shop` → `reviews.shop.svc.cluster.local`, as Istio resolves short names. */
export function fullHost(host: string, namespace: string): string {
  if (host.includes('*')) return host;
  const labels = host.split('.');
  if (labels.length === 1) return `${host}.${namespace}.svc.cluster.local`;
  if (labels.length === 2) return `${host}.svc.cluster.local`;
  return host;
}

/** The upstream a host becomes: a cluster service by its short name, anything else by its host. */
export function upstreamName(host: string): string {
  return host.endsWith('.svc.cluster.local') ? host.split('.')[0]! : host;
}

function matchesSelector(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  if (!isObject(selector)) return true;
  const matchLabels = selector.matchLabels;
  if (!isObject(matchLabels)) return true;
  return Object.entries(matchLabels).every(([key, value]) => labels[key] === value);
}

/** Loads YAML text (files' contents) into options and a report. Throws `ResourceError` on bad input. */
export async function loadIstio(
  files: readonly { readonly path: string; readonly text: string }[],
  scope: IstioScope = {},
): Promise<IstioLoad> {
  const namespace =
    scope.namespace ?? process.env.POD_NAMESPACE ?? process.env.SIDECARLESS_NAMESPACE ?? 'default';
  const labels = scope.labels ?? {};
  const rootNamespace = scope.rootNamespace ?? 'istio-system';
  const resources = parseResources(files);
  const report = new Report();
  const applied: string[] = [];
  const skipped: { resource: string; reason: string }[] = [];

  const seen = new Map<string, string>();
  for (const resource of resources) {
    const key = `${resource.kind}/${resource.namespace ?? namespace}/${resource.name}`;
    const first = seen.get(key);
    if (first !== undefined)
      throw new ResourceError(
        `${resource.source}: ${resource.kind} ${resource.name} is defined twice (first in ${first})`,
      );
    seen.set(key, resource.source);
  }

  const upstreams: Record<string, Json> = {};
  const upstreamFor = (host: string, resource: Resource) => {
    const full = fullHost(host, resource.namespace ?? namespace);
    const name = upstreamName(full);
    upstreams[name] ??= { url: `http://${full}` };
    return { name, full, upstream: upstreams[name]! };
  };
  const policies: Json[] = [];
  const jwt: Json[] = [];
  let peerAuthentication: Json | undefined;
  let peerAuthenticationFrom: string | undefined;
  const virtualServiceFor = new Map<string, string>();

  for (const resource of resources) {
    const name = resourceName(resource, namespace);
    if (proxyOnly[resource.kind]) {
      report.add(
        name,
        resource.source,
        'spec',
        'not-honoured',
        `${resource.kind} ${proxyOnly[resource.kind]}`,
      );
      skipped.push({ resource: name, reason: proxyOnly[resource.kind]! });
      continue;
    }
    const known = mapped[resource.kind];
    const [group, version] = resource.apiVersion.split('/');
    if (!known)
      throw new ResourceError(
        `${resource.source}: unknown kind ${resource.kind} (${resource.apiVersion}); the loader reads ${Object.keys(mapped).join(', ')}`,
      );
    if (group !== known.group || !version || !known.versions.includes(version))
      throw new ResourceError(
        `${resource.source}: ${resource.kind} ${resource.name}: unknown apiVersion ${resource.apiVersion}; use ${known.group}/${known.versions.join(' or ')}`,
      );
    await validateSchema(resource);
    const own = resource.namespace ?? namespace;
    const tracker = new FieldTracker();

    // Scoping, as Istio decides which resources a workload gets.
    if (known.group === 'security.istio.io') {
      if (own !== namespace && own !== rootNamespace) {
        skipped.push({
          resource: name,
          reason: `in namespace ${own}, not ${namespace} or the root namespace`,
        });
        continue;
      }
      if (resource.spec.targetRefs !== undefined || resource.spec.targetRef !== undefined) {
        tracker.skip(
          'spec.targetRefs',
          'targets a Gateway or Service (waypoint) by reference, not a workload',
        );
        tracker.skip(
          'spec.targetRef',
          'targets a Gateway or Service (waypoint) by reference, not a workload',
        );
      } else if (!matchesSelector(resource.spec.selector, labels)) {
        skipped.push({ resource: name, reason: 'its selector does not match the function’s labels' });
        continue;
      }
      tracker.use('spec.selector');
    } else {
      const exportTo = resource.spec.exportTo;
      if (Array.isArray(exportTo) && exportTo.length > 0) {
        const visible = exportTo.some(
          (to) => to === '*' || to === namespace || (to === '.' && own === namespace),
        );
        if (!visible) {
          skipped.push({
            resource: name,
            reason: `exportTo ${JSON.stringify(exportTo)} does not reach ${namespace}`,
          });
          continue;
        }
      }
      tracker.use('spec.exportTo');
    }
    applied.push(name);

    switch (resource.kind) {
      case 'DestinationRule':
        mapDestinationRule(resource, tracker, upstreamFor);
        break;
      case 'VirtualService':
        mapVirtualService(resource, tracker, upstreamFor, virtualServiceFor, name);
        break;
      case 'HTTPRoute':
        mapHttpRoute(resource, tracker, upstreamFor, virtualServiceFor, name, namespace);
        break;
      case 'ServiceEntry':
        mapServiceEntry(resource, tracker, upstreamFor);
        break;
      case 'AuthorizationPolicy':
        policies.push(mapAuthorizationPolicy(resource, tracker, name));
        break;
      case 'RequestAuthentication':
        jwt.push(...mapRequestAuthentication(resource, tracker));
        break;
      case 'PeerAuthentication': {
        const mapped_ = mapPeerAuthentication(resource, tracker);
        // The workload-specific policy wins over the namespace's, which wins over the mesh's.
        const rank = resource.spec.selector ? 3 : own === namespace ? 2 : 1;
        const current = peerAuthenticationFrom === undefined ? 0 : Number(peerAuthenticationFrom);
        // UNSET inherits the less specific policy's mode: it overrides nothing.
        const mode = (mapped_?.mtls as { mode?: unknown } | undefined)?.mode;
        if (mapped_ && mode !== 'UNSET' && rank > current) {
          peerAuthentication = mapped_;
          peerAuthenticationFrom = String(rank);
        }
        break;
      }
    }
    tracker.report(report, name, resource.source, 'spec', resource.spec);
  }

  if (report.refused.length > 0) {
    const lines = report.refused.map((finding) => `${finding.resource}: ${finding.path}: ${finding.reason}`);
    throw new ResourceError(`refused, failing closed:\n  - ${lines.join('\n  - ')}`);
  }
  const options: IstioOptions = {};
  // The shapes are the features' own; their checkers validate the values at createMesh.
  if (Object.keys(upstreams).length > 0) options.upstreams = upstreams as Record<string, UpstreamOptions>;
  const auth: Json = {};
  if (policies.length > 0) auth.policies = policies;
  if (jwt.length > 0) auth.jwt = jwt;
  if (peerAuthentication) auth.peerAuthentication = peerAuthentication;
  if (Object.keys(auth).length > 0) options.auth = auth as AuthOptions;
  return { options, report, applied, skipped };
}

type UpstreamFor = (host: string, resource: Resource) => { name: string; full: string; upstream: Json };

/** Copies the keys of `from` listed in `keys` into `to`, marking each as honoured. */
function copy(from: Json, to: Json, keys: readonly string[], path: string, tracker: FieldTracker): void {
  for (const key of keys) {
    if (from[key] === undefined) continue;
    to[key] = from[key];
    tracker.use(`${path}.${key}`);
  }
}

/**
 * Istio's connection-pool counts are proto3 integers whose 0 is "not set" — the default, 2³²−1
 * (istiod applies a limit only when it is above 0; `maxRequestsPerConnection: 0` is documented as
 * unlimited). Dropped, so they mean here what they mean to the sidecar.
 */
function unsetWhenZero(pool: Json, keys: readonly string[]): void {
  for (const key of keys) if (pool[key] === 0) delete pool[key];
}

function mapTrafficPolicy(policy: Json, path: string, tracker: FieldTracker): Json {
  const out: Json = {};
  if (isObject(policy.connectionPool)) {
    const pool: Json = {};
    const tcp = policy.connectionPool.tcp;
    const http = policy.connectionPool.http;
    if (isObject(tcp)) {
      pool.tcp = {};
      copy(
        tcp,
        pool.tcp as Json,
        ['maxConnections', 'connectTimeout', 'idleTimeout'],
        `${path}.connectionPool.tcp`,
        tracker,
      );
      unsetWhenZero(pool.tcp as Json, ['maxConnections']);
      if (isObject(tcp.tcpKeepalive)) {
        (pool.tcp as Json).tcpKeepalive = { time: tcp.tcpKeepalive.time };
        if (tcp.tcpKeepalive.time !== undefined) tracker.use(`${path}.connectionPool.tcp.tcpKeepalive.time`);
        for (const key of ['interval', 'probes'])
          if (tcp.tcpKeepalive[key] !== undefined)
            tracker.skip(
              `${path}.connectionPool.tcp.tcpKeepalive.${key}`,
              'Node sets only the idle time before the first probe; the interval and probe count are the operating system’s',
            );
      }
    }
    if (isObject(http)) {
      pool.http = {};
      copy(
        http,
        pool.http as Json,
        [
          'http1MaxPendingRequests',
          'http2MaxRequests',
          'maxRequestsPerConnection',
          'maxRetries',
          'h2UpgradePolicy',
        ],
        `${path}.connectionPool.http`,
        tracker,
      );
      unsetWhenZero(pool.http as Json, [
        'http1MaxPendingRequests',
        'http2MaxRequests',
        'maxRequestsPerConnection',
        'maxRetries',
      ]);
      const reasons: Record<string, string> = {
        idleTimeout: 'the pool closes idle connections after connectionPool.tcp.idleTimeout',
        maxConcurrentStreams: 'HTTP/2 stream limits are the server’s to announce',
        useClientProtocol: 'the client picks HTTP/1.1, or HTTP/2 with h2UpgradePolicy: UPGRADE',
      };
      for (const [key, reason] of Object.entries(reasons))
        if (http[key] !== undefined) tracker.skip(`${path}.connectionPool.http.${key}`, reason);
    }
    out.connectionPool = pool;
  }
  if (isObject(policy.outlierDetection)) {
    out.outlierDetection = {};
    copy(
      policy.outlierDetection,
      out.outlierDetection as Json,
      [
        'consecutive5xxErrors',
        'consecutiveGatewayErrors',
        'interval',
        'baseEjectionTime',
        'maxEjectionPercent',
        'minHealthPercent',
      ],
      `${path}.outlierDetection`,
      tracker,
    );
  }
  if (isObject(policy.loadBalancer)) {
    out.loadBalancer = {};
    copy(policy.loadBalancer, out.loadBalancer as Json, ['simple'], `${path}.loadBalancer`, tracker);
    const hash = policy.loadBalancer.consistentHash;
    if (isObject(hash)) {
      const kept: Json = {};
      copy(
        hash,
        kept,
        ['httpHeaderName', 'httpCookie', 'useSourceIp'],
        `${path}.loadBalancer.consistentHash`,
        tracker,
      );
      (out.loadBalancer as Json).consistentHash = kept;
    }
    if (policy.loadBalancer.localityLbSetting !== undefined)
      tracker.skip(`${path}.loadBalancer.localityLbSetting`, 'a function has no locality to prefer');
    if (policy.loadBalancer.warmupDurationSecs !== undefined || policy.loadBalancer.warmup !== undefined) {
      tracker.skip(`${path}.loadBalancer.warmupDurationSecs`, 'slow start needs endpoint discovery');
      tracker.skip(`${path}.loadBalancer.warmup`, 'slow start needs endpoint discovery');
    }
  }
  if (isObject(policy.tls)) {
    const mode = policy.tls.mode;
    if (mode === 'SIMPLE' || mode === 'MUTUAL') {
      out.tls = {};
      copy(
        policy.tls,
        out.tls as Json,
        ['mode', 'caCertificates', 'clientCertificate', 'privateKey', 'subjectAltNames', 'sni'],
        `${path}.tls`,
        tracker,
      );
    } else if (mode === 'ISTIO_MUTUAL') {
      tracker.skip(
        `${path}.tls`,
        'ISTIO_MUTUAL uses certificates the sidecar gets from istiod; give the function its own (tls.mode: MUTUAL with files)',
      );
    } else if (mode === 'DISABLE') tracker.use(`${path}.tls`);
  }
  if (policy.portLevelSettings !== undefined)
    tracker.skip(
      `${path}.portLevelSettings`,
      'an upstream has one endpoint URL; per-port settings do not apply',
    );
  if (policy.tunnel !== undefined) tracker.skip(`${path}.tunnel`, 'tunnelling is the proxy’s');
  if (policy.proxyProtocol !== undefined)
    tracker.skip(`${path}.proxyProtocol`, 'the PROXY protocol is the proxy’s');
  return out;
}

function mapDestinationRule(resource: Resource, tracker: FieldTracker, upstreamFor: UpstreamFor): void {
  const spec = resource.spec as Json;
  if (typeof spec.host !== 'string') return;
  if (spec.host.includes('*')) {
    tracker.skip(
      'spec',
      `a rule for the wildcard host ${spec.host} applies to no single upstream; write one per host`,
    );
    return;
  }
  const { upstream, full } = upstreamFor(spec.host, resource);
  tracker.use('spec.host');
  if (isObject(spec.trafficPolicy))
    Object.assign(upstream, mapTrafficPolicy(spec.trafficPolicy, 'spec.trafficPolicy', tracker));
  // A TLS origination rule means the upstream speaks https (its port is the service's).
  const mode = isObject(upstream.tls) ? upstream.tls.mode : undefined;
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && upstream.url === `http://${full}`)
    upstream.url = `https://${full}`;
  if (Array.isArray(spec.subsets)) {
    upstream.subsets = spec.subsets.map((subset, index) => {
      const path = `spec.subsets[${index}]`;
      const out: Json = {};
      if (!isObject(subset)) return out;
      copy(subset, out, ['name', 'labels'], path, tracker);
      if (isObject(subset.trafficPolicy))
        out.trafficPolicy = mapTrafficPolicy(subset.trafficPolicy, `${path}.trafficPolicy`, tracker);
      return out;
    });
  }
  if (spec.workloadSelector !== undefined)
    tracker.skip('spec.workloadSelector', 'applies the rule to some sidecars only; a function is not one');
}

/** Which keys of a value the mesh understands: `true` copies it as it is, an object looks inside, `[schema]` each item. */
type Schema = { readonly [key: string]: true | Schema | readonly [Schema] };

const stringMatch: Schema = { exact: true, prefix: true, regex: true };
const headerOperations: Schema = { set: true, add: true, remove: true };

/** The parts of an `http` route the router honours (traffic/options.ts reads the same names). */
const routeSchema: Schema = {
  name: true,
  match: [
    {
      name: true,
      uri: stringMatch,
      method: stringMatch,
      headers: true,
      withoutHeaders: true,
      queryParams: true,
      ignoreUriCase: true,
      sourceLabels: true,
    },
  ],
  rewrite: { uri: true, authority: true },
  headers: { request: headerOperations, response: headerOperations },
  timeout: true,
  fault: {
    delay: { fixedDelay: true, percentage: { value: true } },
    abort: { httpStatus: true, percentage: { value: true } },
  },
  directResponse: { status: true, body: { string: true } },
  redirect: { uri: true, authority: true, redirectCode: true },
  mirrorPercentage: { value: true },
};

/** Copies what `schema` names, marking it honoured; the rest is left for the report. */
function pick(
  value: unknown,
  schema: true | Schema | readonly [Schema],
  path: string,
  tracker: FieldTracker,
): unknown {
  if (schema === true) {
    tracker.use(path);
    return value;
  }
  if (Array.isArray(schema)) {
    if (!Array.isArray(value)) return undefined;
    return value.map((item, index) =>
      pick(item, (schema as readonly [Schema])[0], `${path}[${index}]`, tracker),
    );
  }
  if (!isObject(value)) return undefined;
  const out: Json = {};
  for (const [key, inner] of Object.entries(schema as Schema)) {
    if (value[key] === undefined) continue;
    const picked = pick(value[key], inner, `${path}.${key}`, tracker);
    if (picked !== undefined) out[key] = picked;
  }
  return out;
}

function mapVirtualService(
  resource: Resource,
  tracker: FieldTracker,
  upstreamFor: UpstreamFor,
  virtualServiceFor: Map<string, string>,
  name: string,
): void {
  const spec = resource.spec as Json;
  const gateways = spec.gateways;
  if (Array.isArray(gateways) && gateways.length > 0 && !gateways.includes('mesh')) {
    tracker.skip('spec', `applies to gateways ${gateways.join(', ')}, not to calls inside the mesh`);
    return;
  }
  tracker.use('spec.gateways');
  const hosts = Array.isArray(spec.hosts) ? (spec.hosts as string[]) : [];
  tracker.use('spec.hosts');
  if (spec.tcp !== undefined)
    tracker.skip('spec.tcp', 'TCP routing is the proxy’s; the mesh routes HTTP calls');
  if (spec.tls !== undefined) tracker.skip('spec.tls', 'TLS passthrough routing is the proxy’s');
  if (spec.exportTo !== undefined) tracker.use('spec.exportTo');
  for (const host of hosts) {
    const { name: upstream, full, upstream: options } = upstreamFor(host, resource);
    const other = virtualServiceFor.get(full);
    if (other !== undefined)
      throw new ResourceError(
        `${resource.source}: ${name} routes ${full}, which ${other} routes too; Istio merges VirtualServices only for gateways — keep one per host`,
      );
    virtualServiceFor.set(full, name);
    if (!Array.isArray(spec.http)) continue;
    options.http = spec.http.map((route, index) => {
      const path = `spec.http[${index}]`;
      const out: Json = {};
      if (!isObject(route)) return out;
      Object.assign(out, pick(route, routeSchema, path, tracker));
      // Istio's deprecated `fault.delay.percent` (a whole number) is `percentage.value` now.
      const delay = isObject(route.fault) && isObject(route.fault.delay) ? route.fault.delay : undefined;
      if (delay && typeof delay.percent === 'number' && delay.percentage === undefined) {
        tracker.use(`${path}.fault.delay.percent`);
        const fault = out.fault as Json;
        fault.delay = { ...(fault.delay as Json), percentage: { value: delay.percent } };
      }
      if (isObject(route.retries)) {
        out.retries = {};
        copy(route.retries, out.retries as Json, ['attempts', 'perTryTimeout'], `${path}.retries`, tracker);
        if (route.retries.retryOn !== undefined)
          tracker.skip(`${path}.retries.retryOn`, 'a route’s retries use the upstream’s retryOn');
        if (route.retries.retryRemoteLocalities !== undefined)
          tracker.skip(`${path}.retries.retryRemoteLocalities`, 'a function has no locality');
      }
      const destination = (value: unknown, at: string): Json | undefined => {
        if (!isObject(value)) return undefined;
        const out_: Json = {};
        if (typeof value.host === 'string') {
          const target = upstreamFor(value.host, resource);
          if (target.name !== upstream) out_.host = target.name;
          tracker.use(`${at}.host`);
        }
        if (value.subset !== undefined) {
          out_.subset = value.subset;
          tracker.use(`${at}.subset`);
        }
        if (value.port !== undefined) tracker.skip(`${at}.port`, 'the upstream’s URL names its port');
        return out_;
      };
      if (Array.isArray(route.route)) {
        out.route = route.route.map((entry, at) => {
          const entryPath = `${path}.route[${at}]`;
          const kept: Json = {};
          if (!isObject(entry)) return kept;
          copy(entry, kept, ['weight', 'headers'], entryPath, tracker);
          kept.destination = destination(entry.destination, `${entryPath}.destination`) ?? {};
          return kept;
        });
      }
      if (route.mirror !== undefined) out.mirror = destination(route.mirror, `${path}.mirror`);
      if (Array.isArray(route.mirrors)) {
        out.mirrors = route.mirrors.map((entry, at) => {
          const kept: Json = {};
          if (!isObject(entry)) return kept;
          kept.destination = destination(entry.destination, `${path}.mirrors[${at}].destination`);
          copy(entry, kept, ['percentage'], `${path}.mirrors[${at}]`, tracker);
          return kept;
        });
      }
      if (route.corsPolicy !== undefined)
        tracker.skip(
          `${path}.corsPolicy`,
          'not honoured in-process; answer CORS in the handler or at the gateway',
        );
      if (route.delegate !== undefined)
        tracker.skip(`${path}.delegate`, 'delegation is for gateway VirtualServices');
      return out;
    });
  }
}

function mapServiceEntry(resource: Resource, tracker: FieldTracker, upstreamFor: UpstreamFor): void {
  const spec = resource.spec as Json;
  const hosts = Array.isArray(spec.hosts) ? (spec.hosts as string[]) : [];
  tracker.use('spec.hosts');
  const ports = Array.isArray(spec.ports) ? (spec.ports as Json[]) : [];
  const first = ports[0];
  const secure =
    first && typeof first.protocol === 'string' && ['HTTPS', 'TLS'].includes(first.protocol.toUpperCase());
  for (const host of hosts) {
    const { upstream } = upstreamFor(host, resource);
    const port = typeof first?.number === 'number' ? first.number : undefined;
    const endpoints = Array.isArray(spec.endpoints) ? (spec.endpoints as Json[]) : [];
    const addresses = endpoints.length > 0 ? endpoints.map((endpoint) => String(endpoint.address)) : [host];
    const urls = addresses.map((address) => {
      const defaultPort = secure ? 443 : 80;
      return `${secure ? 'https' : 'http'}://${address}${port === undefined || port === defaultPort ? '' : `:${port}`}`;
    });
    delete upstream.url;
    upstream.endpoints = urls;
    if (spec.resolution === 'DNS' && urls.length === 1) upstream.resolution = 'DNS';
  }
  if (ports.length > 0) {
    tracker.use('spec.ports[0]');
    for (let i = 1; i < ports.length; i++)
      tracker.skip(`spec.ports[${i}]`, 'an upstream calls one port: the first');
  }
  if (Array.isArray(spec.endpoints))
    spec.endpoints.forEach((_, index) => {
      tracker.use(`spec.endpoints[${index}].address`);
    });
  tracker.use('spec.resolution');
  tracker.use('spec.location');
  if (spec.addresses !== undefined)
    tracker.skip('spec.addresses', 'virtual IPs are for the proxy’s interception');
  if (spec.workloadSelector !== undefined)
    tracker.skip('spec.workloadSelector', 'selects pods as endpoints; a function cannot discover them');
  if (spec.subjectAltNames !== undefined)
    tracker.skip('spec.subjectAltNames', 'set upstreams.<name>.tls.subjectAltNames');
}

function mapAuthorizationPolicy(resource: Resource, tracker: FieldTracker, name: string): Json {
  const spec = resource.spec as Json;
  const action = spec.action ?? 'ALLOW';
  if (action === 'CUSTOM' || action === 'AUDIT') {
    // Ignoring a CUSTOM (external authorizer) or AUDIT policy would let through what the
    // platform team meant to check: fail closed.
    tracker.skip(
      'spec.action',
      `${action} needs the proxy's extension provider; the mesh cannot evaluate it`,
      'refused',
    );
  }
  tracker.use('spec.action');
  tracker.use('spec.rules');
  if (spec.provider !== undefined)
    tracker.skip('spec.provider', 'CUSTOM providers are not supported', 'refused');
  const policy: Json = { name: resource.name, action };
  if (spec.rules !== undefined) policy.rules = spec.rules;
  void name;
  return policy;
}

function mapRequestAuthentication(resource: Resource, tracker: FieldTracker): Json[] {
  const spec = resource.spec as Json;
  const rules = Array.isArray(spec.jwtRules) ? (spec.jwtRules as Json[]) : [];
  return rules.map((rule, index) => {
    const path = `spec.jwtRules[${index}]`;
    const out: Json = {};
    copy(
      rule,
      out,
      [
        'issuer',
        'audiences',
        'jwksUri',
        'jwks',
        'fromHeaders',
        'fromParams',
        'fromCookies',
        'forwardOriginalToken',
        'outputClaimToHeaders',
        'outputPayloadToHeader',
        'timeout',
        'spaceDelimitedClaims',
      ],
      path,
      tracker,
    );
    return out;
  });
}

function mapPeerAuthentication(resource: Resource, tracker: FieldTracker): Json | undefined {
  const spec = resource.spec as Json;
  if (spec.portLevelMtls !== undefined)
    tracker.skip('spec.portLevelMtls', 'a function listens on one port; only the policy-wide mode applies');
  if (!isObject(spec.mtls)) return undefined;
  tracker.use('spec.mtls.mode');
  return { mtls: { mode: spec.mtls.mode ?? 'UNSET' } };
}

/** Gateway API's match types, as the router's StringMatch. */
function stringMatchOf(type: unknown, value: unknown): Json | undefined {
  if (typeof value !== 'string') return undefined;
  if (type === undefined || type === 'Exact') return { exact: value };
  if (type === 'PathPrefix') return { prefix: value };
  if (type === 'RegularExpression') return { regex: value };
  return undefined;
}

/** Relative weights (Gateway API's, default 1) as percentages summing to 100 (largest remainder). */
function percentages(weights: readonly number[]): number[] {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  if (total === 0) return weights.map(() => 0);
  const exact = weights.map((weight) => (weight * 100) / total);
  const out = exact.map(Math.floor);
  let left = 100 - out.reduce((sum, value) => sum + value, 0);
  const order = exact
    .map((value, index) => ({ index, rest: value - Math.floor(value) }))
    .sort((a, b) => b.rest - a.rest);
  for (const { index } of order) {
    if (left <= 0) break;
    out[index]!++;
    left--;
  }
  return out;
}

/**
 * Gateway API `HTTPRoute` with a Service parent (the GAMMA mesh profile): the calls to that
 * Service are routed, on the same route model as a VirtualService's. A route bound to a Gateway
 * is for an ingress proxy: reported, not applied. Producer routes (in the Service's namespace)
 * apply to every caller; consumer routes only to callers in their own namespace.
 */
function mapHttpRoute(
  resource: Resource,
  tracker: FieldTracker,
  upstreamFor: UpstreamFor,
  routed: Map<string, string>,
  name: string,
  functionNamespace: string,
): void {
  const spec = resource.spec as Json;
  const own = resource.namespace ?? functionNamespace;
  const parents = (Array.isArray(spec.parentRefs) ? spec.parentRefs : []) as Json[];
  const services = parents.filter(
    (ref) => ref.kind === 'Service' && (ref.group === undefined || ref.group === '' || ref.group === 'core'),
  );
  parents.forEach((ref, index) => {
    if (services.includes(ref)) tracker.use(`spec.parentRefs[${index}]`);
    else
      tracker.skip(
        `spec.parentRefs[${index}]`,
        'a Gateway parent is an ingress proxy’s route, not a call inside the mesh',
      );
  });
  if (spec.hostnames !== undefined)
    tracker.skip('spec.hostnames', 'hostnames do not apply to a Service parent (GAMMA)');
  const rules = (Array.isArray(spec.rules) ? spec.rules : []) as Json[];
  for (const parent of services) {
    const parentNamespace = typeof parent.namespace === 'string' ? parent.namespace : own;
    // A consumer route (in another namespace than the Service's) applies to its own namespace's callers only.
    if (own !== parentNamespace && own !== functionNamespace) continue;
    const host = `${String(parent.name)}.${parentNamespace}`;
    const { name: upstream, full, upstream: options } = upstreamFor(host, resource);
    const other = routed.get(full);
    if (other !== undefined)
      throw new ResourceError(
        `${resource.source}: ${name} routes ${full}, which ${other} routes too; keep one route resource per host`,
      );
    routed.set(full, name);
    options.http = rules.map((rule, index) => {
      const path = `spec.rules[${index}]`;
      const out: Json = {};
      if (typeof rule.name === 'string') {
        out.name = rule.name;
        tracker.use(`${path}.name`);
      }
      if (Array.isArray(rule.matches)) {
        out.match = (rule.matches as Json[]).map((match, at) => {
          const matchPath = `${path}.matches[${at}]`;
          const kept: Json = {};
          if (isObject(match.path)) {
            const uri = stringMatchOf(match.path.type, match.path.value);
            if (uri) {
              kept.uri = uri;
              tracker.use(`${matchPath}.path`);
            }
          }
          for (const key of ['headers', 'queryParams'] as const) {
            if (!Array.isArray(match[key])) continue;
            const pairs: Json = {};
            (match[key] as Json[]).forEach((entry, position) => {
              const matcher = stringMatchOf(entry.type, entry.value);
              if (matcher && typeof entry.name === 'string') {
                pairs[key === 'headers' ? entry.name.toLowerCase() : entry.name] = matcher;
                tracker.use(`${matchPath}.${key}[${position}]`);
              }
            });
            kept[key] = pairs;
          }
          if (typeof match.method === 'string') {
            kept.method = { exact: match.method };
            tracker.use(`${matchPath}.method`);
          }
          return kept;
        });
      }
      const headerOps = (filter: Json): Json => {
        const ops: Json = {};
        for (const key of ['set', 'add'] as const)
          if (Array.isArray(filter[key]))
            ops[key] = Object.fromEntries(
              (filter[key] as Json[]).map((entry) => [String(entry.name), String(entry.value)]),
            );
        if (Array.isArray(filter.remove)) ops.remove = filter.remove;
        return ops;
      };
      const filters = (Array.isArray(rule.filters) ? rule.filters : []) as Json[];
      filters.forEach((filter, at) => {
        const filterPath = `${path}.filters[${at}]`;
        out.headers ??= {};
        const headers = out.headers as Json;
        switch (filter.type) {
          case 'RequestHeaderModifier':
            if (isObject(filter.requestHeaderModifier))
              headers.request = headerOps(filter.requestHeaderModifier);
            tracker.use(filterPath);
            break;
          case 'ResponseHeaderModifier':
            if (isObject(filter.responseHeaderModifier))
              headers.response = headerOps(filter.responseHeaderModifier);
            tracker.use(filterPath);
            break;
          case 'URLRewrite': {
            const rewrite = isObject(filter.urlRewrite) ? filter.urlRewrite : {};
            const kept: Json = {};
            if (typeof rewrite.hostname === 'string') kept.authority = rewrite.hostname;
            const rewritePath = isObject(rewrite.path) ? rewrite.path : undefined;
            if (rewritePath?.type === 'ReplaceFullPath') kept.uri = rewritePath.replaceFullPath;
            if (rewritePath?.type === 'ReplacePrefixMatch') kept.uri = rewritePath.replacePrefixMatch;
            out.rewrite = kept;
            tracker.use(filterPath);
            break;
          }
          case 'RequestRedirect': {
            const redirect = isObject(filter.requestRedirect) ? filter.requestRedirect : {};
            const kept: Json = {};
            if (typeof redirect.hostname === 'string') kept.authority = redirect.hostname;
            const redirectPath = isObject(redirect.path) ? redirect.path : undefined;
            if (redirectPath?.type === 'ReplaceFullPath') kept.uri = redirectPath.replaceFullPath;
            if (typeof redirect.statusCode === 'number') kept.redirectCode = redirect.statusCode;
            out.redirect = kept;
            tracker.use(`${filterPath}.type`);
            for (const key of ['hostname', 'statusCode'])
              if (redirect[key] !== undefined) tracker.use(`${filterPath}.requestRedirect.${key}`);
            if (redirectPath?.type === 'ReplaceFullPath') tracker.use(`${filterPath}.requestRedirect.path`);
            break;
          }
          case 'RequestMirror': {
            const mirror = isObject(filter.requestMirror) ? filter.requestMirror : {};
            const backend = isObject(mirror.backendRef) ? mirror.backendRef : {};
            const target = upstreamFor(
              `${String(backend.name)}.${typeof backend.namespace === 'string' ? backend.namespace : own}`,
              resource,
            );
            const percent = typeof mirror.percent === 'number' ? mirror.percent : 100;
            out.mirrors ??= [];
            (out.mirrors as Json[]).push({
              destination: target.name === upstream ? {} : { host: target.name },
              percentage: { value: percent },
            });
            tracker.use(`${filterPath}.type`);
            tracker.use(`${filterPath}.requestMirror.backendRef.name`);
            tracker.use(`${filterPath}.requestMirror.backendRef.namespace`);
            tracker.use(`${filterPath}.requestMirror.percent`);
            if (backend.port !== undefined)
              tracker.skip(
                `${filterPath}.requestMirror.backendRef.port`,
                'the upstream’s URL names its port',
              );
            break;
          }
          default:
            tracker.skip(filterPath, `a ${String(filter.type)} filter is not supported in-process`);
        }
        if (Object.keys(headers).length === 0) delete out.headers;
      });
      const backends = (Array.isArray(rule.backendRefs) ? rule.backendRefs : []) as Json[];
      if (backends.length > 0) {
        const weights = percentages(backends.map((ref) => (typeof ref.weight === 'number' ? ref.weight : 1)));
        out.route = backends.map((ref, at) => {
          const refPath = `${path}.backendRefs[${at}]`;
          const target = upstreamFor(
            `${String(ref.name)}.${typeof ref.namespace === 'string' ? ref.namespace : own}`,
            resource,
          );
          tracker.use(`${refPath}.name`);
          tracker.use(`${refPath}.namespace`);
          tracker.use(`${refPath}.weight`);
          tracker.use(`${refPath}.kind`);
          tracker.use(`${refPath}.group`);
          if (ref.port !== undefined) tracker.skip(`${refPath}.port`, 'the upstream’s URL names its port');
          if (ref.filters !== undefined)
            tracker.skip(`${refPath}.filters`, 'per-backend filters are not supported in-process');
          const entry: Json = { destination: target.name === upstream ? {} : { host: target.name } };
          if (backends.length > 1) entry.weight = weights[at];
          return entry;
        });
      }
      if (isObject(rule.timeouts)) {
        if (rule.timeouts.request !== undefined) {
          out.timeout = rule.timeouts.request;
          tracker.use(`${path}.timeouts.request`);
        }
        if (rule.timeouts.backendRequest !== undefined) {
          out.retries = { perTryTimeout: rule.timeouts.backendRequest };
          tracker.use(`${path}.timeouts.backendRequest`);
        }
      }
      if (rule.retry !== undefined)
        tracker.skip(`${path}.retry`, 'the experimental retry field is not read; set the upstream’s retries');
      if (rule.sessionPersistence !== undefined)
        tracker.skip(
          `${path}.sessionPersistence`,
          'use the DestinationRule’s consistentHash for sticky routing',
        );
      return out;
    });
  }
}
