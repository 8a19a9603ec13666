/**
 * `@sidecarless/istio`: the cluster's Istio resources as the function's configuration — the
 * same YAML a sidecar would have read. `VirtualService`, `DestinationRule` and `ServiceEntry`
 * become upstreams with routes, subsets and policies; `AuthorizationPolicy`,
 * `RequestAuthentication` and `PeerAuthentication` become auth options — scoped to the function
 * as Istio scopes them to a workload (namespace, `selector`, root namespace, `exportTo`, short
 * host names). Every field is reported honoured or not, with the reason; a field whose absence
 * would weaken security refuses the load. The YAML parser and the schema are loaded only when
 * this runs: at build time, in CI (`sidecarless check`), or once at init.
 *
 * @example
 * ```ts
 * import { loadIstio } from '@sidecarless/istio';
 *
 * const { options, report } = await loadIstio(
 *   [{ path: 'reviews.yaml', text: 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: { name: reviews }\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: { host: reviews }\n      weight: 100\n' }],
 *   { namespace: 'shop', labels: { app: 'productpage' } },
 * );
 * console.log(Object.keys(options.upstreams ?? {}), report.complete); // [ 'reviews' ] true
 * ```
 *
 * Or register the {@link istio} feature: the mesh reads the files itself at init and reloads them
 * when they change (a mounted ConfigMap), swapping each valid change in between invocations.
 *
 * @packageDocumentation
 */
export { mapped, parseResources, proxyOnly, type Resource, ResourceError } from './documents.js';
export { type IstioConfigOptions, istio } from './feature.js';
export {
  fullHost,
  type IstioLoad,
  type IstioOptions,
  type IstioScope,
  loadIstio,
  upstreamName,
} from './load.js';
export { type FieldStatus, type Finding, Report } from './report.js';
