/**
 * The example is deployable: the handlers named by template.yaml and serverless.yml exist, and
 * the function bundles with esbuild into one CommonJS file that runs on Node with require(esm)
 * off, as on the nodejs22.x runtime.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const here = import.meta.dirname;
const template = readFileSync(join(here, 'template.yaml'), 'utf8');
const serverless = readFileSync(join(here, 'serverless.yml'), 'utf8');
const outDir = mkdtempSync(join(tmpdir(), 'sidecarless-example-lambda-'));

function handlersIn(text: string, key: RegExp): string[] {
  return [...text.matchAll(key)].map((match) => match[1]!);
}

const samHandlers = handlersIn(template, /^\s+Handler: (\S+)$/gm);
const slsHandlers = handlersIn(serverless, /^\s+handler: (\S+)$/gm);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('examples/lambda', () => {
  it('names the nodejs22.x runtime and esbuild in both deployment files', () => {
    expect(template).toMatch(/Runtime: nodejs22\.x/);
    expect(template).toMatch(/BuildMethod: esbuild/);
    expect(serverless).toMatch(/runtime: nodejs22\.x/);
    expect(serverless).toMatch(/esbuild:/);
    expect(samHandlers).toEqual(['src/handler.api', 'src/handler.worker', 'src/handler.nightly']);
    expect(slsHandlers).toEqual(samHandlers);
  });

  it('points every handler at a source file that exists', () => {
    for (const handler of [...samHandlers, ...slsHandlers]) {
      const file = handler.slice(0, handler.lastIndexOf('.'));
      expect(existsSync(join(here, `${file}.ts`)), `${file}.ts`).toBe(true);
    }
  });

  it('bundles into one CommonJS file that runs with require(esm) off', async () => {
    const bundled = await build({
      entryPoints: [join(here, 'src', 'handler.ts')],
      bundle: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      minify: true,
      write: false,
      logLevel: 'silent',
      outfile: join(outDir, 'handler.cjs'),
    });
    expect(bundled.errors).toEqual([]);
    expect(bundled.outputFiles).toHaveLength(1);
    const bundle = bundled.outputFiles[0]!;
    writeFileSync(bundle.path, bundle.contents);
    expect(bundle.text).not.toMatch(/require\(["']@sidecarless\//);

    const script = `
      const fn = require(${JSON.stringify(bundle.path)});
      const names = ['api', 'worker', 'nightly'].filter((name) => typeof fn[name] === 'function');
      const context = { awsRequestId: 'bundle-1', getRemainingTimeInMillis: () => 3000 };
      const event = {
        version: '2.0', routeKey: 'POST /orders', rawPath: '/orders', rawQueryString: '',
        headers: { host: 'api.example.com', 'content-type': 'application/json' },
        requestContext: { domainName: 'api.example.com', http: { method: 'POST', path: '/orders' }, requestId: 'r', routeKey: 'POST /orders', stage: '$default' },
        body: JSON.stringify({ sku: 'A-1', qty: 2 }), isBase64Encoded: false,
      };
      fn.api(event, context).then((result) => process.stdout.write('RESULT ' + JSON.stringify({ names, result }) + '\\n'));
    `;
    const output = execFileSync(process.execPath, ['--no-experimental-require-module', '-e', script], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    });
    const line = output.split('\n').find((text) => text.startsWith('RESULT '))!;
    const { names, result } = JSON.parse(line.slice('RESULT '.length)) as {
      names: string[];
      result: { statusCode: number; body: string };
    };
    expect(names).toEqual(['api', 'worker', 'nightly']);
    expect(result.statusCode).toBe(201);
    expect(JSON.parse(result.body)).toEqual({ id: 'bundle-1', sku: 'A-1', qty: 2 });
  });
});

describe('docs/platforms/lambda.md', () => {
  const docPath = join(here, '..', '..', 'docs', 'platforms', 'lambda.md');
  const doc = readFileSync(docPath, 'utf8');
  const blocks = [...doc.matchAll(/<!-- snippet: (\S+) -->\n```ts\n([\s\S]*?)\n```/g)];

  it('shows every source with an example', () => {
    const files = blocks.map((block) => block[1]);
    for (const name of ['http', 'stream', 'sqs', 'sns', 'eventbridge', 's3', 'event', 'facts']) {
      expect(files).toContain(`examples/lambda/snippets/${name}.ts`);
    }
  });

  it('keeps each example identical to its type-checked file', () => {
    for (const [, file, code] of blocks) {
      const source = readFileSync(join(here, '..', '..', file!), 'utf8').trimEnd();
      expect(code, file).toBe(source);
    }
  });
});
