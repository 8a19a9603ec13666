#!/usr/bin/env node
/**
 * `sidecarless`: what a function will make of the cluster's Istio resources, before deploying.
 *
 *   sidecarless check FILES… [--namespace N] [--labels k=v,…] [--json]
 *   sidecarless explain FILES… --service NAME [--namespace N] [--labels k=v,…]
 *
 * `check` exits 0 only when everything given will be honoured — for CI. The options it produces
 * are also put through `createMesh`'s own checkers (auth, outbound, traffic), so "honoured"
 * means the mesh accepts them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { auth } from '@sidecarless/auth';
import { ConfigError, createMesh, type MeshOptions } from '@sidecarless/core';
import { outbound } from '@sidecarless/outbound';
import { http } from '@sidecarless/outbound/http';
import { traffic } from '@sidecarless/outbound/traffic';
import { ResourceError } from './documents.js';
import { type IstioLoad, loadIstio } from './load.js';

const usage = {
  check: `Usage: sidecarless check FILES… [--namespace N] [--labels k=v,…] [--json]

Reads Istio resources (files or directories of .yaml) and prints, per resource, what the
function will honour and what it will not. Exits 0 only when everything will be honoured.

  --namespace N    the function's namespace (default: default)
  --labels k=v,…   the function's labels, for selectors (app=orders,version=v2)
  --json           one JSON document instead of text

Example:
  sidecarless check deploy/mesh-policy.yaml --namespace shop --labels app=payments`,
  explain: `Usage: sidecarless explain FILES… --service NAME [--namespace N] [--labels k=v,…]

Prints the mesh options the function will run with after scoping: the upstreams and auth
sections Istio's resources became, as JSON.

Example:
  sidecarless explain deploy/ --service orders --namespace shop`,
};

const top = `Usage: sidecarless <command> [options]

Commands:
  check     what will and will not be honoured of the given Istio resources (exit 0: all)
  explain   the options a function will run with after scoping

Run sidecarless <command> --help for a command's options.`;

function fail(message: string): never {
  process.stderr.write(`sidecarless: ${message}\n`);
  process.exit(2);
}

function yamlFiles(paths: readonly string[]): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const path of paths) {
    let stats: ReturnType<typeof statSync>;
    try {
      stats = statSync(path);
    } catch {
      fail(`${path}: no such file or directory`);
    }
    if (stats.isDirectory()) {
      // A mounted ConfigMap's files are symlinks into `..data`; the dot-entries themselves are skipped.
      for (const entry of readdirSync(path).sort())
        if (!entry.startsWith('.') && /\.ya?ml$/.test(entry))
          out.push({ path: join(path, entry), text: readFileSync(join(path, entry), 'utf8') });
    } else out.push({ path, text: readFileSync(path, 'utf8') });
  }
  if (out.length === 0) fail('no YAML files given; pass files or directories of .yaml');
  return out;
}

function parseLabels(value: string | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of (value ?? '').split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    if (at <= 0) fail(`--labels: "${pair}" is not key=value; use --labels app=orders,version=v2`);
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

async function main(argv: readonly string[]): Promise<number> {
  const command = argv[0];
  if (command === undefined || command === '--help' || command === '-h') {
    process.stdout.write(`${top}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'check' && command !== 'explain')
    fail(`unknown command "${command}"; use check or explain (sidecarless --help)`);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv.slice(1),
      allowPositionals: true,
      options: {
        namespace: { type: 'string' },
        labels: { type: 'string' },
        service: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    fail(`${(error as Error).message}; see sidecarless ${command} --help`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${usage[command]}\n`);
    return 0;
  }
  const service = (values.service as string | undefined) ?? 'function';
  if (command === 'explain' && values.service === undefined)
    fail('explain needs --service NAME (the function’s name)');
  const labels = parseLabels(values.labels as string | undefined);
  if (command === 'explain' && labels.app === undefined) labels.app = service;
  const scope = { namespace: (values.namespace as string | undefined) ?? 'default', labels };
  let load: IstioLoad;
  try {
    load = await loadIstio(yamlFiles(positionals), scope);
  } catch (error) {
    if (error instanceof ResourceError) {
      process.stderr.write(`sidecarless: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  const problems = meshProblems(load, service);
  if (command === 'explain') {
    process.stdout.write(`${JSON.stringify(load.options, null, 2)}\n`);
    if (problems.length > 0)
      process.stderr.write(`sidecarless: the mesh refuses:\n  - ${problems.join('\n  - ')}\n`);
    return problems.length === 0 ? 0 : 1;
  }
  const complete = load.report.complete && problems.length === 0;
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ complete, applied: load.applied, skipped: load.skipped, findings: load.report.findings, meshProblems: problems }, null, 2)}\n`,
    );
    return complete ? 0 : 1;
  }
  const tty = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
  const paint = (code: number, text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);
  const byResource = new Map<string, typeof load.report.findings>();
  for (const finding of load.report.findings) {
    const list = byResource.get(finding.resource) ?? [];
    list.push(finding);
    byResource.set(finding.resource, list);
  }
  for (const [resource, findings] of byResource) {
    const missing = findings.filter((finding) => finding.status !== 'honoured');
    const mark = missing.length === 0 ? paint(32, '✓') : paint(33, '!');
    process.stdout.write(
      `${mark} ${resource} (${findings[0]!.source}): ${findings.length - missing.length} of ${findings.length} fields honoured\n`,
    );
    for (const finding of missing)
      process.stdout.write(`    ${finding.path}: not honoured — ${finding.reason}\n`);
  }
  for (const { resource, reason } of load.skipped)
    if (!byResource.has(resource))
      process.stdout.write(`${paint(2, '-')} ${resource}: does not apply (${reason})\n`);
  for (const problem of problems) process.stdout.write(`${paint(31, '✗')} the mesh refuses ${problem}\n`);
  process.stdout.write(
    complete
      ? `${paint(32, 'everything given will be honoured')}\n`
      : `${paint(33, 'some of it will not be honoured')} (exit 1)\n`,
  );
  return complete ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`sidecarless: ${(error as Error).message}\n`);
    process.exit(2);
  },
);
