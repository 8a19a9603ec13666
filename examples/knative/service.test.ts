/**
 * The Knative example: every document in service.yaml validates against the Knative resource
 * schemas (@kubernetes-models/knative), carries the autoscaling annotations and the probes our
 * server answers, names handler files that exist, and those handlers really serve.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Trigger } from '@kubernetes-models/knative/eventing.knative.dev/v1/Trigger';
import { Service } from '@kubernetes-models/knative/serving.knative.dev/v1/Service';
import { freePort } from '@sidecarless/testing';
import { CloudEvent, emitterFor, httpTransport, Mode } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const documents = parseAllDocuments(readFileSync(here('./service.yaml'), 'utf8')).map(
  (document) => document.toJS() as { kind: string; metadata: { name: string } } & Record<string, unknown>,
);
const services = documents.filter((document) => document.kind === 'Service');
const triggers = documents.filter((document) => document.kind === 'Trigger');

interface Container {
  command: string[];
  readinessProbe?: { httpGet: { path: string } };
  livenessProbe?: { httpGet: { path: string } };
}
const containerOf = (service: Record<string, unknown>) =>
  (service as unknown as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec
    .containers[0]!;

async function startHandler(file: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [here(file)], {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'silent', K_REVISION: 'hello-00001' },
    stdio: 'ignore',
  });
  const base = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 600; attempt++) {
    const ready = await fetch(`${base}/health/readiness`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return { child, base };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error(`${file} never became ready`);
}

async function stop(child: ChildProcess): Promise<number | null> {
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('examples/knative/service.yaml', () => {
  it('validates every Service and Trigger against the Knative schemas', () => {
    expect(services.length).toBe(2);
    expect(triggers.length).toBe(1);
    for (const service of services) expect(() => new Service(service as never).validate()).not.toThrow();
    for (const trigger of triggers) expect(() => new Trigger(trigger as never).validate()).not.toThrow();
  });

  it('fails validation for a broken Service, so the check above can fail', () => {
    const broken = structuredClone(services[0]!) as unknown as {
      spec: { template: { spec: { containers: unknown } } };
    };
    broken.spec.template.spec.containers = 'not-a-list';
    expect(() => new Service(broken as never).validate()).toThrow();
  });

  it('carries the autoscaling annotations on every Service', () => {
    for (const service of services) {
      const annotations = (
        service as unknown as { spec: { template: { metadata: { annotations: Record<string, string> } } } }
      ).spec.template.metadata.annotations;
      expect(annotations).toMatchObject({
        'autoscaling.knative.dev/minScale': '1',
        'autoscaling.knative.dev/maxScale': '10',
      });
    }
  });

  it('routes the Trigger to a Service defined here', () => {
    const subscriber = (
      triggers[0] as unknown as { spec: { subscriber: { ref: { kind: string; name: string } } } }
    ).spec.subscriber.ref;
    expect(subscriber.kind).toBe('Service');
    expect(services.map((service) => service.metadata.name)).toContain(subscriber.name);
  });

  it('names handler files that exist and probe paths the server answers', () => {
    for (const service of services) {
      const container = containerOf(service);
      expect(container.command[0]).toBe('node');
      expect(existsSync(here(container.command[1]!))).toBe(true);
      expect(container.readinessProbe?.httpGet.path).toBe('/health/readiness');
      if (container.livenessProbe) expect(container.livenessProbe.httpGet.path).toBe('/health/liveness');
    }
  });

  it('serves the hello handler and drains to exit 0 on SIGTERM', async () => {
    const hello = services.find((service) => service.metadata.name === 'hello-serverless')!;
    const { child, base } = await startHandler(containerOf(hello).command[1]!);
    const body = await (await fetch(`${base}/greet`)).json();
    expect(body).toEqual({ hello: 'World', path: '/greet', revision: 'hello-00001' });
    expect(await stop(child)).toBe(0);
  });

  it('acknowledges an order event sent through the SDK emitter', async () => {
    const sink = services.find((service) => service.metadata.name === 'order-events')!;
    const { child, base } = await startHandler(containerOf(sink).command[1]!);
    try {
      const emit = emitterFor(httpTransport(base), { mode: Mode.STRUCTURED });
      const reply = (await emit(
        new CloudEvent({ id: 'o-1', type: 'com.example.order.created', source: '/shop', data: { qty: 1 } }),
      )) as { headers: Record<string, string> };
      expect(reply.headers['ce-type']).toBe('com.example.order.acknowledged');
      expect(reply.headers['ce-id']).toBe('o-1-ack');
    } finally {
      await stop(child);
    }
  });
});
