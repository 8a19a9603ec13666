/**
 * The `istio` feature: the mesh's `upstreams` and `auth` sections come from Istio YAML files — a
 * mounted ConfigMap, typically — and follow them while the function runs.
 *
 * At `createMesh` the files are read and loaded as init work the first invocation waits for: if
 * that fails, invocations fail (500) rather than run without the policy. Then a watcher reloads
 * them on change: the new sections are checked and their features started off the hot path, and
 * swapped in between invocations by `mesh.reconfigure` — or, when anything is wrong, refused
 * whole with one `error` line naming the file, resource and field, while the running
 * configuration stays.
 */
import {
  ConfigError,
  type ConfigIssue,
  type Feature,
  type FeatureHost,
  type ReconfigureResult,
  type Sections,
} from '@sidecarless/core';
import {
  arrayOf,
  boolean,
  checkObject,
  describe,
  type IssueList,
  isPlainObject,
  optional,
  string,
  workloadLabels,
} from '@sidecarless/core/feature';
import { type FilesWatch, readYamlFiles, snapshotKey, watchFiles } from './files.js';
import { type IstioLoad, type IstioScope, loadIstio } from './load.js';

/** The `istio` section: where the resources are, whose they are, and whether to follow them. */
export interface IstioConfigOptions {
  /**
   * Files and directories of Istio YAML (`*.yaml`, `*.yml`; dot-entries skipped). A directory
   * mounted from a ConfigMap is read through its `..data` link: one version at a time.
   */
  files: readonly string[];
  /** The function's namespace. Default: `POD_NAMESPACE`, `SIDECARLESS_NAMESPACE`, else `default`. */
  namespace?: string;
  /**
   * The function's labels, for `selector`s. Given ones are added to (and override) Istio's
   * canonical `app` (the service name) and `version` (the service version), and on Knative the
   * `serving.knative.dev/service`, `/revision` and `/configuration` labels of its pods.
   */
  labels?: Readonly<Record<string, string>>;
  /** Istio's root namespace, whose security policies apply mesh-wide. Default `istio-system`. */
  rootNamespace?: string;
  /** Reload when the files change. Default true. */
  watch?: boolean;
  /**
   * What the function adds to the files' upstreams — where it reaches them and with which
   * certificate (`endpoints`, `tls` with its own files, which no cluster DNS or istiod gives a
   * function), and settings of its own (`circuitBreaker`, `deadlineMargin`). Merged over each load
   * field by field: objects deeply, the function's values winning; its `endpoints` or `url`
   * replace the address the files' host name stands for. Upstreams the files do not name are added.
   */
  upstreams?: Readonly<Record<string, unknown>>;
  /**
   * What the function adds to the files' policy. `jwt` rules and `policies` are added to the
   * files' (every policy still applies, as Istio combines them: a function cannot drop the
   * platform's rules); other fields (`peerAuthentication`, `trustedProxies`…) are the function's.
   */
  auth?: Readonly<Record<string, unknown>>;
}

interface NormalizedIstioConfig {
  readonly files: readonly string[];
  readonly namespace: string | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly rootNamespace: string | undefined;
  readonly watch: boolean;
  /** The function's own additions, as given: checked with the files' sections on each load. */
  readonly own: { readonly upstreams?: Json; readonly auth?: Json };
}

type Json = Record<string, unknown>;

/**
 * After the last event, how long to wait before reading: the kubelet's swap is a burst of renames
 * within a millisecond or two, an editor's save a few; 100 ms folds each into one read.
 */
const debounceMs = 100;
/** Only when the platform refuses a watch: the kubelet itself syncs ConfigMaps every ~60 s. */
const pollMs = 2_000;
/** The sections the files own. */
const owned = ['upstreams', 'auth'] as const;

const labelValues = (value: unknown, path: string, issues: IssueList) => {
  if (!isPlainObject(value))
    return issues.add(path, 'expected an object of label → value, for example { app: "orders" }');
  const labels: Record<string, string> = {};
  for (const [name, label] of Object.entries(value))
    if (typeof label === 'string') labels[name] = label;
    else issues.add(`${path}.${name}`, `${describe(label)} is not a string`);
  return labels;
};

/**
 * The istio feature: owns the `istio` section; the `upstreams` and `auth` sections come from the
 * files. Register it with `auth`, `outbound` and `http` (and `traffic` when the resources route).
 *
 * @example
 * ```ts
 * import { auth } from '@sidecarless/auth';
 * import { createMesh } from '@sidecarless/core';
 * import { istio } from '@sidecarless/istio';
 * import { outbound } from '@sidecarless/outbound';
 * import { http } from '@sidecarless/outbound/http';
 * import { traffic } from '@sidecarless/outbound/traffic';
 *
 * // /etc/mesh is the ConfigMap holding the namespace's VirtualServices and AuthorizationPolicies.
 * const mesh = createMesh({ service: 'orders', istio: { files: ['/etc/mesh'] } }, [auth, outbound, http, traffic, istio]);
 * ```
 */
export const istio: Feature<'istio', IstioConfigOptions, NormalizedIstioConfig> = {
  name: 'istio',
  section: 'istio',
  check: (value, path, issues, host) => {
    if (value === undefined) return undefined;
    const input = checkObject(value, path, issues, [
      'files',
      'namespace',
      'labels',
      'rootNamespace',
      'watch',
      'upstreams',
      'auth',
    ]);
    if (!input) return undefined;
    const files = optional(input, 'files', path, issues, arrayOf(string('use a path such as "/etc/mesh"')));
    if (input.files === undefined)
      issues.add(`${path}.files`, 'is required; list files or directories, for example ["/etc/mesh"]');
    else if (files?.length === 0)
      issues.add(`${path}.files`, 'is empty; list files or directories, for example ["/etc/mesh"]');
    for (const [feature, from] of [
      ['auth', '@sidecarless/auth'],
      ['outbound', '@sidecarless/outbound'],
      ['http', '@sidecarless/outbound/http'],
    ] as const)
      if (host.feature(feature) === undefined)
        issues.add(
          path,
          `needs the ${feature} feature, which the loaded resources configure; add import { ${feature} } from '${from}' and pass it to createMesh`,
        );
    return {
      files: files ?? [],
      namespace: optional(input, 'namespace', path, issues, string('use a namespace such as "shop"')),
      labels: optional(input, 'labels', path, issues, labelValues) ?? {},
      rootNamespace: optional(
        input,
        'rootNamespace',
        path,
        issues,
        string('use a namespace such as "istio-system"'),
      ),
      watch: optional(input, 'watch', path, issues, boolean) ?? true,
      own: ownSections(input, path, issues, host),
    };
  },
  start: (host) => {
    if (host.section === undefined) return undefined;
    startIstioConfig(host as FeatureHost<NormalizedIstioConfig>);
    return undefined;
  },
};

function startIstioConfig(host: FeatureHost<NormalizedIstioConfig>): void {
  const config = host.section!;
  // Sections given in code as well would be replaced by the files' on the first load: say so now.
  const twice = owned.filter(
    (key) => host.feature(key === 'upstreams' ? 'outbound' : key)?.section !== undefined,
  );
  if (twice.length > 0)
    throw new ConfigError(
      twice.map((key) => ({
        path: key,
        message: `is loaded from istio.files; describe it in the files, or move what the function adds (endpoints, its certificates, its own settings) to istio.${key}`,
      })),
    );
  const scope: IstioScope = {
    labels: { ...workloadLabels(host.service, host.version, process.env), ...config.labels },
    ...(config.namespace === undefined ? {} : { namespace: config.namespace }),
    ...(config.rootNamespace === undefined ? {} : { rootNamespace: config.rootNamespace }),
  };
  const where = config.files.join(', ');
  /** The snapshot in effect, and one refused since (not reported again until it changes). */
  let appliedKey: string | undefined;
  let appliedSections: Sections = {};
  let refusedKey: string | undefined;
  /** The snapshot being tried, and the sections it gave. */
  let trying: string | undefined;
  let tryingSections: Sections = {};
  let load: IstioLoad | undefined;
  let watch: FilesWatch | undefined;
  let closed = false;

  const sections = async (): Promise<Sections> => {
    const files = await readYamlFiles(config.files);
    const key = snapshotKey(files);
    // Nothing new since the last answer: the same sections, which the mesh finds unchanged.
    if (key === appliedKey || key === refusedKey) return appliedSections;
    trying = key;
    load = undefined;
    load = await loadIstio(files, scope);
    tryingSections = withOwn(load.options, config.own);
    return tryingSections;
  };

  const reload = async (): Promise<ReconfigureResult> => {
    trying = undefined;
    const result = await host.reconfigure(sections);
    if (result.outcome === 'applied') {
      appliedKey = trying;
      appliedSections = tryingSections;
      refusedKey = undefined;
    } else if (result.outcome === 'rejected') refusedKey = trying;
    return result;
  };

  const initial = reload().then((result) => {
    if (result.outcome === 'rejected') {
      host.log.error(
        { event: 'config_load', files: where, outcome: 'rejected', ...describeRefusal(result.error, load) },
        'Istio configuration refused at start; invocations fail until it is fixed',
      );
      throw result.error;
    }
    host.log.info(
      {
        event: 'config_load',
        files: where,
        generation: result.generation,
        applied: load?.applied.length ?? 0,
      },
      'Istio configuration loaded',
    );
    if (config.watch && !closed) {
      watch = watchFiles(config.files, changed, { debounceMs, pollMs, onWatchError });
      // A change between the first read and the watch's start has no event: look once more.
      changed();
    }
  });
  host.whenReady(initial);
  host.onClose(() => {
    closed = true;
    watch?.close();
  });

  // One reload at a time; a change seen during one is read again right after it.
  let running = false;
  let again = false;
  function changed(): void {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void reload()
      .then(report, (error: unknown) => host.log.error({ err: error }, 'Istio configuration reload failed'))
      .finally(() => {
        running = false;
        if (again && !closed) {
          again = false;
          changed();
        }
      });
  }

  function report(result: ReconfigureResult): void {
    // A reload that was under way when the mesh closed: nothing to report.
    if (closed) return;
    if (result.outcome === 'applied')
      host.log.info(
        {
          event: 'config_reload',
          files: where,
          outcome: 'applied',
          generation: result.generation,
          restarted: result.restarted,
          applied: load?.applied.length ?? 0,
        },
        'Istio configuration reloaded',
      );
    else if (result.outcome === 'rejected')
      host.log.error(
        {
          event: 'config_reload',
          files: where,
          outcome: 'rejected',
          generation: result.generation,
          ...describeRefusal(result.error, load),
        },
        'Istio configuration reload refused; the running configuration stays',
      );
  }

  function onWatchError(error: unknown): void {
    host.log.warn(
      { files: where, err: error, pollMs },
      'cannot watch the Istio configuration files; polling them instead',
    );
  }
}

/**
 * `istio.upstreams` and `istio.auth`, kept as given (each load merges them with the files' and
 * the mesh checks the result), but checked on their own now, so a typo fails at `createMesh`
 * naming its `istio.` path rather than at the first load.
 */
function ownSections(
  input: Json,
  path: string,
  issues: IssueList,
  host: import('@sidecarless/core').CheckHost,
): NormalizedIstioConfig['own'] {
  const own: { upstreams?: Json; auth?: Json } = {};
  for (const [key, feature] of [
    ['upstreams', 'outbound'],
    ['auth', 'auth'],
  ] as const) {
    const value = input[key];
    if (value === undefined) continue;
    if (!isPlainObject(value)) {
      issues.add(
        `${path}.${key}`,
        `${describe(value)} is not an object; give it as the ${key} section is given`,
      );
      continue;
    }
    // A feature's checker names its own section's paths (`upstreams.payments.timeout`): said
    // here as the `istio.` paths the user wrote.
    const under = (issuePath: string) =>
      issuePath === key || issuePath.startsWith(`${key}.`) || issuePath.startsWith(`${key}[`)
        ? `${path}.${issuePath}`
        : issuePath;
    const prefixed = {
      issues: [],
      add: (issuePath: string, message: string) => issues.add(under(issuePath), message),
    } as unknown as IssueList;
    host.feature(feature)?.check?.(value, key, prefixed, host);
    own[key] = value;
  }
  return own;
}

/** The files' sections with the function's own additions (see {@link IstioConfigOptions}). */
export function withOwn(
  loaded: { readonly upstreams?: unknown; readonly auth?: unknown },
  own: NormalizedIstioConfig['own'],
): Sections {
  const upstreams: Json = { ...((loaded.upstreams as Json | undefined) ?? {}) };
  for (const [name, mine] of Object.entries(own.upstreams ?? {})) {
    const theirs = upstreams[name];
    if (!isPlainObject(theirs) || !isPlainObject(mine)) {
      upstreams[name] = mine;
      continue;
    }
    const merged = mergeDeep(theirs, mine);
    // Where the function reaches the upstream is its own: not the cluster address of the host.
    if (mine.endpoints !== undefined || mine.url !== undefined) {
      delete merged.url;
      delete merged.endpoints;
      if (mine.url !== undefined) merged.url = mine.url;
      if (mine.endpoints !== undefined) merged.endpoints = mine.endpoints;
    }
    upstreams[name] = merged;
  }
  const theirAuth = loaded.auth as Json | undefined;
  let auth: Json | undefined = theirAuth;
  if (own.auth !== undefined) {
    const { jwt, policies, ...rest } = own.auth;
    auth = mergeDeep(theirAuth ?? {}, rest);
    const lists = { jwt, policies } as const;
    for (const [key, mine] of Object.entries(lists)) {
      if (mine === undefined) continue;
      const theirs = theirAuth?.[key];
      auth[key] = [...(Array.isArray(theirs) ? theirs : []), ...(Array.isArray(mine) ? mine : [mine])];
    }
  }
  return {
    upstreams: Object.keys(upstreams).length === 0 ? loaded.upstreams : upstreams,
    auth,
  };
}

/** `base` with `over`'s fields: plain objects merged, anything else replaced. */
function mergeDeep(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeDeep(current, value) : value;
  }
  return out;
}

/**
 * What was wrong, for the log line: the loader's message (file, resource and field) or, when the
 * mesh's own checks refused the result, each field with the resource it came from where known.
 */
function describeRefusal(error: unknown, load: IstioLoad | undefined): Record<string, unknown> {
  if (error instanceof ConfigError)
    return {
      reason: 'the mesh refuses the loaded options',
      issues: error.issues.map((issue) => withResource(issue, load)),
    };
  return { reason: error instanceof Error ? error.message : String(error) };
}

/** `auth.policies[2].rules…` names the policy the loader made from `AuthorizationPolicy x`. */
function withResource(issue: ConfigIssue, load: IstioLoad | undefined): Record<string, string> {
  const policy = /^auth\.policies\[(\d+)\]/.exec(issue.path);
  const name = policy ? load?.options.auth?.policies?.[Number(policy[1])]?.name : undefined;
  return name === undefined
    ? { path: issue.path, message: issue.message }
    : { resource: `AuthorizationPolicy ${name}`, path: issue.path, message: issue.message };
}

// Importing this package adds its section to `MeshOptions`.
declare module '@sidecarless/core' {
  interface MeshOptions {
    /** Istio YAML as the `upstreams` and `auth` sections, reloaded on change (`@sidecarless/istio`). */
    istio?: IstioConfigOptions;
  }
}
