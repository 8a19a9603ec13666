/**
 * YAML in, resources out: documents parsed by `js-yaml` (errors carry the line and column), each
 * checked for a known `apiVersion`/`kind` and validated against Istio's published CRD schemas
 * (`@kubernetes-models/istio`), not a hand copy.
 */
import { loadAll, YAMLException } from 'js-yaml';

/** One Kubernetes resource, with where it came from. */
export interface Resource {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly spec: Readonly<Record<string, unknown>>;
  /** `file.yaml` or `file.yaml#2` (the document's index when the file holds several). */
  readonly source: string;
}

/** A problem with the input itself: it names the file, the resource and the field. */
export class ResourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResourceError';
  }
}

/** The resources the loader maps, by kind, with the API versions they are served at. */
export const mapped: Readonly<
  Record<string, { readonly group: string; readonly versions: readonly string[]; readonly schemas?: string }>
> = {
  // Gateway API's route, with a Service parent (the GAMMA mesh profile), on the same route model.
  HTTPRoute: {
    group: 'gateway.networking.k8s.io',
    versions: ['v1', 'v1beta1'],
    schemas: '@kubernetes-models/gateway-api',
  },
  VirtualService: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  DestinationRule: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  ServiceEntry: { group: 'networking.istio.io', versions: ['v1', 'v1beta1', 'v1alpha3'] },
  AuthorizationPolicy: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
  RequestAuthentication: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
  PeerAuthentication: { group: 'security.istio.io', versions: ['v1', 'v1beta1'] },
};

/** Resources that only mean something to a proxy: reported as a whole, never half-applied. */
export const proxyOnly: Readonly<Record<string, string>> = {
  Sidecar: 'configures the sidecar proxy itself; there is none',
  EnvoyFilter: 'patches Envoy configuration; there is no Envoy',
  Gateway: 'configures an ingress or egress gateway proxy, not a function',
  WorkloadEntry: 'registers a VM workload with the mesh',
  WorkloadGroup: 'registers VM workloads with the mesh',
  ProxyConfig: 'configures the proxy',
  Telemetry: 'configures the proxies’ telemetry; the function’s is set with telemetry options',
  WasmPlugin: 'extends the proxy with Wasm',
};

/**
 * A file's YAML documents, by js-yaml: 46 KB bundled and ~14 ms less at a cold start than the
 * `yaml` package's document model (115 KB), which a loader that only needs the values does not use.
 */
function parseDocuments(file: { readonly path: string; readonly text: string }): unknown[] {
  try {
    return loadAll(file.text);
  } catch (error) {
    if (!(error instanceof YAMLException)) throw error;
    // js-yaml counts lines and columns from 0.
    const line = (error.mark?.line ?? -1) + 1;
    const column = (error.mark?.column ?? -1) + 1;
    throw new ResourceError(`${file.path}:${line}:${column}: invalid YAML: ${error.reason}`);
  }
}

/** Parses every document of every file. Throws a `ResourceError` naming the file, line and column. */
export function parseResources(
  files: readonly { readonly path: string; readonly text: string }[],
): Resource[] {
  const resources: Resource[] = [];
  for (const file of files) {
    const list = parseDocuments(file);
    list.forEach((value, index) => {
      const source = list.length > 1 ? `${file.path}#${index + 1}` : file.path;
      if (value === null || value === undefined) return; // an empty document (`---` at the end)
      if (typeof value !== 'object' || Array.isArray(value))
        throw new ResourceError(
          `${source}: expected a Kubernetes resource (a mapping with apiVersion and kind)`,
        );
      const object = value as Record<string, unknown>;
      const { apiVersion, kind } = object;
      if (typeof apiVersion !== 'string' || typeof kind !== 'string')
        throw new ResourceError(`${source}: a resource needs apiVersion and kind`);
      const metadata = (object.metadata ?? {}) as Record<string, unknown>;
      const name = typeof metadata.name === 'string' ? metadata.name : '';
      if (name === '') throw new ResourceError(`${source}: ${kind} has no metadata.name`);
      resources.push({
        apiVersion,
        kind,
        name,
        namespace: typeof metadata.namespace === 'string' ? metadata.namespace : undefined,
        metadata,
        spec: (object.spec ?? {}) as Record<string, unknown>,
        source,
      });
    });
  }
  return resources;
}

/** `kind namespace/name`, as findings name a resource. */
export const resourceName = (resource: Resource, namespace: string): string =>
  `${resource.kind} ${resource.namespace ?? namespace}/${resource.name}`;

type SchemaModule = Record<string, new (value: unknown) => { validate(): void }>;

/**
 * Each kind's schema module, by `group/kind`, as literal imports: a bundler (SAM's esbuild, one
 * CommonJS file) then carries the ones a function can load, each evaluated only when a resource of
 * its kind is validated; a computed specifier would be left to resolve at run time from a
 * node_modules a bundled function does not have.
 *
 * One schema per kind, v1's: Istio serves v1alpha3, v1beta1 and v1 of a kind from one schema (the
 * same protobuf), and Gateway API's v1beta1 HTTPRoute is v1's. Carrying each version's copy made a
 * bundled function 3× larger for nothing — V8 compiles the whole file at start, ~30 ms per MB.
 */
const schemaModules: Readonly<Record<string, () => Promise<unknown>>> = {
  'gateway.networking.k8s.io/HTTPRoute': () =>
    import('@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute'),
  'networking.istio.io/VirtualService': () =>
    import('@kubernetes-models/istio/networking.istio.io/v1/VirtualService'),
  'networking.istio.io/DestinationRule': () =>
    import('@kubernetes-models/istio/networking.istio.io/v1/DestinationRule'),
  'networking.istio.io/ServiceEntry': () =>
    import('@kubernetes-models/istio/networking.istio.io/v1/ServiceEntry'),
  'security.istio.io/AuthorizationPolicy': () =>
    import('@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy'),
  'security.istio.io/RequestAuthentication': () =>
    import('@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication'),
  'security.istio.io/PeerAuthentication': () =>
    import('@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication'),
};

/**
 * Validates a mapped resource against its published CRD schema. Throws a `ResourceError` with the
 * failing field. Resolves the schema module only for the kinds present.
 */
export async function validateSchema(resource: Resource): Promise<void> {
  const [group, version] = resource.apiVersion.split('/');
  const known = mapped[resource.kind];
  if (!known || group !== known.group || !version || !known.versions.includes(version)) return;
  const module = (await schemaModules[`${group}/${resource.kind}`]!()) as SchemaModule;
  const Model = module[resource.kind]!;
  try {
    new Model({ metadata: resource.metadata, spec: resource.spec }).validate();
  } catch (error) {
    const message = (error as Error).message.replace(/^data\//, '').replace(/\//g, '.');
    throw new ResourceError(
      `${resource.source}: ${resource.kind} ${resource.name}: fails ${known.schemas ? 'the Gateway API' : 'Istio'}'s schema: ${message}`,
    );
  }
  celRules(resource);
}

/**
 * Rules Istio's CRDs state in CEL, which the published JSON schemas do not carry: the API server
 * would refuse these resources, so the loader does too.
 */
function celRules(resource: Resource): void {
  const fail = (field: string, message: string) => {
    throw new ResourceError(`${resource.source}: ${resource.kind} ${resource.name}: ${field}: ${message}`);
  };
  const spec = resource.spec as Record<string, unknown>;
  if (resource.kind === 'PeerAuthentication' && spec.portLevelMtls !== undefined) {
    const ports = spec.portLevelMtls as Record<string, unknown>;
    if (spec.selector === undefined) fail('spec.portLevelMtls', 'requires a selector');
    if (Object.keys(ports).length === 0) fail('spec.portLevelMtls', 'must hold at least one port');
    for (const key of Object.keys(ports))
      if (!/^\d+$/.test(key) || Number(key) < 1 || Number(key) > 65535)
        fail(`spec.portLevelMtls.${key}`, 'is not a port; use a number from 1 to 65535');
  }
  const refs = [
    ...(spec.targetRef === undefined ? [] : [spec.targetRef]),
    ...(Array.isArray(spec.targetRefs) ? spec.targetRefs : []),
  ] as Record<string, unknown>[];
  const set = [spec.selector, spec.targetRef, spec.targetRefs].filter((value) => value !== undefined).length;
  if (set > 1) fail('spec', 'only one of targetRefs, targetRef or selector can be set');
  refs.forEach((ref, index) => {
    if (typeof ref !== 'object' || ref === null) return;
    if (ref.namespace !== undefined && ref.namespace !== (resource.namespace ?? ref.namespace))
      fail(`spec.targetRefs[${index}].namespace`, 'cross namespace referencing is not supported');
    if (ref.namespace !== undefined && resource.namespace === undefined)
      fail(
        `spec.targetRefs[${index}].namespace`,
        'cross namespace referencing is not supported (the resource names no namespace)',
      );
  });
}
