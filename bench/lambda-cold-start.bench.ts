/**
 * Cold start of a Lambda function, reported as init (process start → handler module loaded)
 * and first invocation (the first call, which loads Node's Fetch machinery), separately. Each
 * sample is a fresh Node process with require(esm) off, as on nodejs22.x; the candidates are
 * interleaved round by round. Bundled means one minified esbuild CommonJS file, as users deploy.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { deployedBundle, median, printTable, times } from './lib.ts';

const resolveImport = (id: string) => fileURLToPath(import.meta.resolve(id));
const work = mkdtempSync(join(tmpdir(), 'sidecarless-cold-'));
const event = {
  version: '2.0',
  routeKey: 'POST /orders',
  rawPath: '/orders',
  rawQueryString: '',
  headers: { host: 'api.example.com', 'content-type': 'application/json', 'user-agent': 'bench' },
  requestContext: {
    domainName: 'api.example.com',
    http: { method: 'POST', path: '/orders' },
    requestId: 'r',
  },
  body: '{"sku":"A-1","qty":2}',
  isBase64Encoded: false,
};

const sources: Record<string, string> = {
  bare: `export const handler = async (event) => {
    const order = JSON.parse(event.body);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: order.sku, agent: event.headers['user-agent'] }) };
  };`,
  middy: `import middy from '@middy/core';
    import normalizeEvent from '@middy/http-event-normalizer';
    import normalizeHeaders from '@middy/http-header-normalizer';
    import parseJson from '@middy/http-json-body-parser';
    export const handler = middy(async (event) => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sku: event.body.sku, agent: event.headers['user-agent'] }) }))
      .use(normalizeEvent()).use(normalizeHeaders()).use(parseJson());`,
  sidecarless: `import { createMesh } from '@sidecarless/core';
    import { lambda } from '@sidecarless/lambda';
    const mesh = createMesh({ service: 'cold', logging: { level: 'silent' } });
    export const handler = lambda(mesh, async (request) => {
      const order = await request.json();
      return Response.json({ sku: order.sku, agent: request.headers.get('user-agent') });
    });`,
  // The same handler answering with LazyResponse: on Node 22 nothing in the invocation reads
  // the global Request/Response, so Node's Fetch implementation (~40 ms) is never loaded.
  'sidecarless-lazy-response': `import { createMesh, LazyResponse } from '@sidecarless/core';
    import { lambda } from '@sidecarless/lambda';
    const mesh = createMesh({ service: 'cold', logging: { level: 'silent' } });
    export const handler = lambda(mesh, async (request) => {
      const order = await request.json();
      return LazyResponse.json({ sku: order.sku, agent: request.headers.get('user-agent') });
    });`,
};

async function bundle(name: string): Promise<string> {
  const entry = join(import.meta.dirname, `.cold-${name}.mjs`);
  writeFileSync(entry, sources[name]!);
  try {
    const outfile = join(work, `${name}.bundle.cjs`);
    await build({ ...deployedBundle('cjs'), entryPoints: [entry], outfile });
    return outfile;
  } finally {
    rmSync(entry);
  }
}

/**
 * A module that imports the packages from node_modules. ESM, because Middy 7 ships only ESM,
 * which a CommonJS handler cannot load on nodejs22.x (require(esm) is off there).
 */
function unbundled(name: string): string {
  const file = join(work, `${name}.mjs`);
  const resolved = sources[name]!.replace(
    /from '([^']+)'/g,
    (_, id: string) => `from ${JSON.stringify(pathToFileURL(resolveImport(id)).href)}`,
  );
  writeFileSync(file, resolved);
  return file;
}

const probe = (file: string) => `
  const { performance } = require('node:perf_hooks');
  const load = ${JSON.stringify(file)}.endsWith('.mjs') ? import(${JSON.stringify(pathToFileURL(file).href)}) : Promise.resolve(require(${JSON.stringify(file)}));
  load.then((fn) => {
  const init = performance.now();
  const context = { awsRequestId: 'r', getRemainingTimeInMillis: () => 3000 };
  const started = performance.now();
  fn.handler(${JSON.stringify(event)}, context).then(() => {
    process.stdout.write(JSON.stringify({ init, first: performance.now() - started }));
  });
  });`;

const candidates: { name: string; file: string }[] = [];
for (const name of Object.keys(sources)) {
  candidates.push({ name: `${name}, bundled`, file: await bundle(name) });
  candidates.push({ name: `${name}, node_modules`, file: unbundled(name) });
}

const rounds = 9;
const samples = candidates.map(() => ({ init: [] as number[], first: [] as number[] }));
for (let round = 0; round < rounds; round++) {
  for (const [index, candidate] of candidates.entries()) {
    const output = execFileSync(
      process.execPath,
      ['--no-experimental-require-module', '-e', probe(candidate.file)],
      {
        encoding: 'utf8',
      },
    );
    const { init, first } = JSON.parse(output) as { init: number; first: number };
    samples[index]!.init.push(init);
    samples[index]!.first.push(first);
  }
}
rmSync(work, { recursive: true, force: true });

const baseline = median(samples[0]!.init) + median(samples[0]!.first);
printTable(
  `Cold start, median of ${rounds} fresh processes (Node ${process.version})`,
  ['candidate', 'init (process start → handler loaded)', 'first invocation', 'total', 'vs bare bundled'],
  candidates.map((candidate, index) => {
    const init = median(samples[index]!.init);
    const first = median(samples[index]!.first);
    return [
      candidate.name,
      `${init.toFixed(1)} ms`,
      `${first.toFixed(2)} ms`,
      `${(init + first).toFixed(1)} ms`,
      times((init + first) / baseline),
    ];
  }),
);
