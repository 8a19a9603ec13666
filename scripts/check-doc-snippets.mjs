#!/usr/bin/env node
// Type-checks every ```ts code block in README.md, docs/**/*.md and packages/*/README.md, so the
// examples users copy cannot rot. Each block is compiled as its own ES module (top-level await
// allowed), against the packages' sources, with the repo's strict settings. A block whose info
// string says `no-check` (```ts no-check) is skipped — use it only for deliberate fragments.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));

function markdownFiles() {
  const files = [join(root, 'README.md')];
  const walk = (dir) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith('.md')) files.push(path);
    }
  };
  walk(join(root, 'docs'));
  for (const dir of readdirSync(join(root, 'packages'))) {
    const readme = join(root, 'packages', dir, 'README.md');
    try {
      statSync(readme);
      files.push(readme);
    } catch {}
  }
  return files;
}

const fence = /^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm;
const snippets = new Map(); // virtual path -> { source, origin }
for (const file of markdownFiles()) {
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(fence)) {
    if (match[2].includes('no-check')) continue;
    const line = text.slice(0, match.index).split('\n').length;
    // Snippets live beside the contract tests so `@sidecarless/*` resolves like user code would.
    const virtual = join(root, 'tests', 'contract', `.doc-snippet-${snippets.size}.mts`);
    snippets.set(virtual, {
      source: `${match[3]}\nexport {};\n`,
      origin: `${relative(root, file)}:${line + 1}`,
    });
  }
}

const configPath = join(root, 'tsconfig.json');
const parsed = ts.parseJsonConfigFileContent(
  ts.readConfigFile(configPath, ts.sys.readFile).config,
  ts.sys,
  root,
);
const options = { ...parsed.options, noEmit: true, noUnusedLocals: false, module: ts.ModuleKind.NodeNext };
const host = ts.createCompilerHost(options);
const readFile = host.readFile.bind(host);
const fileExists = host.fileExists.bind(host);
const getSourceFile = host.getSourceFile.bind(host);
host.readFile = (path) => snippets.get(path)?.source ?? readFile(path);
host.fileExists = (path) => snippets.has(path) || fileExists(path);
host.getSourceFile = (path, language, ...rest) => {
  const snippet = snippets.get(path);
  return snippet
    ? ts.createSourceFile(path, snippet.source, language, true)
    : getSourceFile(path, language, ...rest);
};

const program = ts.createProgram([...snippets.keys()], options, host);
const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file && snippets.has(d.file.fileName));
for (const diagnostic of diagnostics) {
  const snippet = snippets.get(diagnostic.file.fileName);
  const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
  console.error(
    `${snippet.origin} (+${line}): ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`,
  );
}
console.log(`doc snippets: ${snippets.size} checked, ${diagnostics.length} problems`);
process.exit(diagnostics.length === 0 ? 0 : 1);
