/**
 * The Prometheus Operator resources shipped here: every document validates against the
 * operator's published schemas (@kubernetes-models/prometheus-operator) — and the Istio and
 * Kubernetes ones against theirs — and they point where the order-processing deployment really
 * serves its metrics: the ports, paths, labels and namespaces of deploy/knative.yaml and
 * deploy/stack.yml, the function binding every interface there. Last, a live function set up as
 * those manifests set it answers the monitors' path on their port.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1/PeerAuthentication';
import { PodMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { createMesh } from '@sidecarless/core';
import { invoke } from '@sidecarless/core/local';
import { telemetry } from '@sidecarless/telemetry';
import { freePort } from '@sidecarless/testing';
import { Service } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const here = import.meta.dirname;
const deploy = join(here, '..', 'order-processing', 'deploy');
type Doc = {
  kind: string;
  apiVersion: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<
  string,
  // biome-ignore lint/suspicious/noExplicitAny: parsed YAML, read field by field below
  any
>;
const documents = (path: string) =>
  parseAllDocuments(readFileSync(path, 'utf8')).map((document) => document.toJS() as Doc);
const byKind = (docs: Doc[], kind: string) => docs.filter((doc) => doc.kind === kind);

const serviceMonitorFile = documents(join(here, 'service-monitor.yaml'));
const podMonitorFile = documents(join(here, 'pod-monitor.yaml'));
const knative = documents(join(deploy, 'knative.yaml'));
const stack = parse(readFileSync(join(deploy, 'stack.yml'), 'utf8')) as {
  functions: Record<string, { environment: Record<string, string> }>;
};

/** The environment of a Knative Service's container, as a map. */
function containerEnv(service: Doc): Record<string, string> {
  const container = service.spec.template.spec.containers[0];
  return Object.fromEntries(
    container.env.map((entry: { name: string; value: string }) => [entry.name, entry.value]),
  );
}

describe('the monitoring resources', () => {
  it('validate against the Prometheus Operator, Istio and Kubernetes schemas', () => {
    const all = [...serviceMonitorFile, ...podMonitorFile, ...documents(join(here, 'prometheus-rule.yaml'))];
    expect(all.map((doc) => `${doc.kind}/${doc.metadata.name}`)).toEqual([
      'Service/payments-metrics',
      'ServiceMonitor/serverless-monitor',
      'PodMonitor/serverless-knative-functions',
      'PeerAuthentication/inventory-metrics-scrape',
      'PrometheusRule/serverless-alerts',
    ]);
    const models: Record<string, (doc: Doc) => { validate(): void }> = {
      Service: (doc) => new Service(doc as never),
      ServiceMonitor: (doc) => new ServiceMonitor(doc as never),
      PodMonitor: (doc) => new PodMonitor(doc as never),
      PeerAuthentication: (doc) => new PeerAuthentication(doc as never),
      PrometheusRule: (doc) => new PrometheusRule(doc as never),
    };
    for (const doc of all) expect(() => models[doc.kind]!(doc).validate(), doc.kind).not.toThrow();
  });

  it('fail validation when a field is wrong (the check can fail)', () => {
    const [monitor] = byKind(serviceMonitorFile, 'ServiceMonitor');
    const broken = structuredClone(monitor!);
    broken.spec.endpoints[0].interval = 'every half minute';
    expect(() => new ServiceMonitor(broken as never).validate()).toThrow();
    const [pods] = byKind(podMonitorFile, 'PodMonitor');
    const brokenPods = structuredClone(pods!);
    brokenPods.spec.podMetricsEndpoints[0].portNumber = 'metrics';
    expect(() => new PodMonitor(brokenPods as never).validate()).toThrow();
    const rule = structuredClone(documents(join(here, 'prometheus-rule.yaml'))[0]!);
    rule.spec.groups[0].rules[0].for = 'five minutes';
    expect(() => new PrometheusRule(rule as never).validate()).toThrow();
  });

  it('scrapes the OpenFaaS function where stack.yml serves its metrics', () => {
    const [service] = byKind(serviceMonitorFile, 'Service');
    const [monitor] = byKind(serviceMonitorFile, 'ServiceMonitor');
    const payments = stack.functions.payments!.environment;
    expect(service!.metadata.namespace).toBe('openfaas-fn');
    expect(monitor!.spec.namespaceSelector.matchNames).toEqual([service!.metadata.namespace]);
    // The monitor selects the Service; the Service selects the function's pods as faas-netes labels them.
    expect(service!.metadata.labels).toMatchObject(monitor!.spec.selector.matchLabels);
    const meshPort = documents(join(deploy, 'payments-mesh.yaml'))[0]!;
    expect(service!.spec.selector).toEqual(meshPort.spec.selector);
    expect(service!.spec.selector).toEqual({ faas_function: 'payments' });
    const [endpoint] = monitor!.spec.endpoints;
    const port = service!.spec.ports.find((entry: { name: string }) => entry.name === endpoint.port);
    expect(port).toBeDefined();
    expect(String(port.targetPort)).toBe(payments.METRICS_PORT);
    expect(payments.METRICS_HOST).toBe('0.0.0.0');
    expect(endpoint.path).toBe('/metrics');
  });

  it('scrapes the Knative functions where knative.yaml serves their metrics', () => {
    const [monitor] = byKind(podMonitorFile, 'PodMonitor');
    const services = byKind(knative, 'Service');
    expect(monitor!.spec.namespaceSelector.matchNames).toEqual([
      ...new Set(services.map((service) => service.metadata.namespace)),
    ]);
    const [expression] = monitor!.spec.selector.matchExpressions;
    expect(expression).toMatchObject({ key: 'serving.knative.dev/service', operator: 'In' });
    expect([...expression.values].sort()).toEqual(services.map((service) => service.metadata.name).sort());
    const [endpoint] = monitor!.spec.podMetricsEndpoints;
    for (const service of services) {
      const env = containerEnv(service);
      expect(String(endpoint.portNumber), service.metadata.name).toBe(env.METRICS_PORT);
      expect(env.METRICS_HOST, service.metadata.name).toBe('0.0.0.0');
      // Knative allows one declared port (the traffic port): the metrics port is reached by number.
      expect(service.spec.template.spec.containers[0].ports).toEqual([{ containerPort: 8080 }]);
    }
    // Every function with Istio's sidecar in the STRICT namespace lets the scrape through in plain text.
    const injected = services.filter(
      (service) => service.spec.template.metadata?.annotations?.['sidecar.istio.io/inject'] === 'true',
    );
    expect(injected.length).toBeGreaterThan(0);
    const exceptions = byKind(podMonitorFile, 'PeerAuthentication');
    for (const service of injected) {
      const exception = exceptions.find(
        (doc) => doc.spec.selector.matchLabels['serving.knative.dev/service'] === service.metadata.name,
      );
      expect(exception, service.metadata.name).toBeDefined();
      expect(exception!.metadata.namespace).toBe(service.metadata.namespace);
      expect(exception!.spec.portLevelMtls[String(endpoint.portNumber)]).toEqual({ mode: 'PERMISSIVE' });
    }
  });

  it('finds a function set up as the manifests set it answering on that port and path', async () => {
    const port = await freePort();
    const mesh = createMesh(
      {
        service: 'inventory',
        logging: { level: 'silent' },
        telemetry: { metrics: { exporter: 'prometheus', port, host: '0.0.0.0' } },
      },
      [telemetry],
    );
    try {
      await mesh.ready();
      await invoke(mesh, () => new Response('ok'), 'http://localhost/stock/42');
      // Reached on an address other than loopback when the machine has one, as the pod IP is.
      const address =
        Object.values(networkInterfaces())
          .flat()
          .find((entry) => entry?.family === 'IPv4' && !entry.internal)?.address ?? '127.0.0.1';
      const [endpoint] = byKind(podMonitorFile, 'PodMonitor')[0]!.spec.podMetricsEndpoints;
      const response = await fetch(`http://${address}:${port}${endpoint.path}`);
      expect(response.status).toBe(200);
      expect(await response.text()).toMatch(/serverless_function_invocations_total\{function="inventory",/);
    } finally {
      await mesh.close();
    }
  });
});
