/**
 * `sidecarless check` and `sidecarless explain`: what a function will make of the cluster's Istio
 * resources, before deploying. `check` exits 0 only when everything given will be honoured — for
 * CI. The options it produces are also put through `createMesh`'s own checkers (auth, outbound,
 * traffic), so "honoured" means the mesh accepts them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { auth } from '@sidecarless/auth';
import { ConfigError, createMesh, type MeshOptions } from '@sidecarless/core';
import { type IstioLoad, loadIstio, ResourceError } from '@sidecarless/istio';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { parse } from './args.js';
import { painter, UsageError } from './terminal.js';

export const checkUsage = `Usage: sidecarless check FILES… [--namespace N] [--labels k=v,…] [--json]

Reads Istio resources (files or directories of .yaml) and prints, per resource, what the
function will honour and what it will not. Exits 0 only when everything will be honoured.

  --namespace N    the function's namespace (default: default)
  --labels k=v,…   the function's labels, for selectors (app=orders,version=v2)
  --json           one JSON document instead of text

Example:
  sidecarless check deploy/mesh-policy.yaml --namespace shop --labels app=payments`;

export const explainUsage = `Usage: sidecarless explain FILES… --service NAME [--namespace N] [--labels k=v,…]

Prints the mesh options the function will run with after scoping: the upstreams and auth
sections Istio's resources became, as JSON.

Example:
  sidecarless explain deploy/ --service orders --namespace shop`;

const options = {
  namespace: { type: 'string' },
  labels: { type: 'string' },
  service: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function yamlFiles(paths: readonly string[]): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const path of paths) {
    let stats: ReturnType<typeof statSync>;
    try {
      stats = statSync(path);
    } catch {
      throw new UsageError(`${path}: no such file or directory`);
    }
    if (stats.isDirectory()) {
      // A mounted ConfigMap's files are symlinks into `..data`; the dot-entries themselves are skipped.
      for (const entry of readdirSync(path).sort())
        if (!entry.startsWith('.') && /\.ya?ml$/.test(entry))
          out.push({ path: join(path, entry), text: readFileSync(join(path, entry), 'utf8') });
    } else out.push({ path, text: readFileSync(path, 'utf8') });
  }
  if (out.length === 0) throw new UsageError('no YAML files given; pass files or directories of .yaml');
  return out;
}

function parseLabels(value: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of (value ?? '').split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0)
      throw new UsageError(`--labels: "${pair}" is not key=value; use --labels app=orders,version=v2`);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

/** The options through the mesh's own checkers: what they refuse is not honoured after all. */
function meshProblems(load: IstioLoad, service: string): string[] {
  try {
    const mesh = createMesh({ service, logging: { level: 'silent' }, ...load.options } as MeshOptions, [
      auth,
      outbound,
      http,
      traffic,
    ]);
    void mesh.close();
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
}

async function loadResources(
  command: 'check' | 'explain',
  argv: readonly string[],
): Promise<{ load: IstioLoad; service: string; json: boolean } | number> {
  const { values, positionals } = parse(command, argv, options);
  const service = values.service ?? 'function';
  if (command === 'explain' && values.service === undefined)
    throw new UsageError('explain needs --service NAME (the function’s name)');
  const labels = parseLabels(values.labels);
  if (command === 'explain' && labels.app === undefined) labels.app = service;
  const scope = { namespace: values.namespace ?? 'default', labels };
  try {
    return { load: await loadIstio(yamlFiles(positionals), scope), service, json: values.json === true };
  } catch (error) {
    if (error instanceof ResourceError) {
      process.stderr.write(`sidecarless: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/** `sidecarless explain`: the options after scoping, as JSON; exit 1 when the mesh refuses them. */
export async function explain(argv: readonly string[]): Promise<number> {
  const loaded = await loadResources('explain', argv);
  if (typeof loaded === 'number') return loaded;
  const problems = meshProblems(loaded.load, loaded.service);
  process.stdout.write(`${JSON.stringify(loaded.load.options, null, 2)}\n`);
  if (problems.length > 0)
    process.stderr.write(`sidecarless: the mesh refuses:\n  - ${problems.join('\n  - ')}\n`);
  return problems.length === 0 ? 0 : 1;
}

/** `sidecarless check`: per resource, what is honoured; exit 0 only when all of it is. */
export async function check(argv: readonly string[]): Promise<number> {
  const loaded = await loadResources('check', argv);
  if (typeof loaded === 'number') return loaded;
  const { load, service } = loaded;
  const problems = meshProblems(load, service);
  const complete = load.report.complete && problems.length === 0;
  if (loaded.json) {
    process.stdout.write(
      `${JSON.stringify({ complete, applied: load.applied, skipped: load.skipped, findings: load.report.findings, meshProblems: problems }, null, 2)}\n`,
    );
    return complete ? 0 : 1;
  }
  const paint = painter(process.stdout);
  const byResource = new Map<string, typeof load.report.findings>();
  for (const finding of load.report.findings) {
    const list = byResource.get(finding.resource) ?? [];
    list.push(finding);
    byResource.set(finding.resource, list);
  }
  for (const [resource, findings] of byResource) {
    const missing = findings.filter((finding) => finding.status !== 'honoured');
    const mark = missing.length === 0 ? paint('green', '✓') : paint('yellow', '!');
    process.stdout.write(
      `${mark} ${resource} (${findings[0]!.source}): ${findings.length - missing.length} of ${findings.length} fields honoured\n`,
    );
    for (const finding of missing)
      process.stdout.write(
        `    ${finding.path}: ${finding.status === 'refused' ? paint('red', 'refused') : 'not honoured'} — ${finding.reason}\n`,
      );
  }
  for (const { resource, reason } of load.skipped)
    if (!byResource.has(resource))
      process.stdout.write(`${paint('dim', '-')} ${resource}: does not apply (${reason})\n`);
  for (const problem of problems) process.stdout.write(`${paint('red', '✗')} the mesh refuses ${problem}\n`);
  process.stdout.write(
    complete
      ? `${paint('green', 'everything given will be honoured')}\n`
      : `${paint('yellow', 'some of it will not be honoured')} (exit 1)\n`,
  );
  return complete ? 0 : 1;
}
