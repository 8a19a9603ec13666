#!/usr/bin/env node
// Type-checks every ```ts code block in README.md, docs/**/*.md and packages/*/README.md, and every
// ```ts block inside a TSDoc `@example` in packages/*/src (what editors show on hover), so the
// examples users copy cannot rot. Each block is compiled as its own ES module (top-level await
// allowed), against the packages' sources, with the repo's strict settings. A block whose info
// string says `no-check` (```ts no-check) is skipped — use it only for deliberate fragments (an
// internal function's example that needs the mesh's own state); a CommonJS example is ```js.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every file under `dir` (when it exists) whose name `keep` accepts. */
function filesUnder(dir, keep, files = []) {
  if (!existsSync(dir)) return files;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) filesUnder(path, keep, files);
    else if (keep(entry)) files.push(path);
  }
  return files;
}

const packageDirs = readdirSync(join(root, 'packages')).map((dir) => join(root, 'packages', dir));

function markdownFiles() {
  const readmes = packageDirs.map((dir) => join(dir, 'README.md')).filter((path) => existsSync(path));
  return [
    join(root, 'README.md'),
    ...filesUnder(join(root, 'docs'), (name) => name.endsWith('.md')),
    ...readmes,
  ];
}

function sourceFiles() {
  const isSource = (name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts');
  return packageDirs.flatMap((dir) => filesUnder(join(dir, 'src'), isSource));
}

/** A TSDoc block's text without its ` * ` prefixes, line for line (so line numbers still match). */
function tsdocText(comment) {
  return comment
    .split('\n')
    .map((line) => line.replace(/^\s*\/?\*+\/?\s?/, '').replace(/\s*\*\/$/, ''))
    .join('\n');
}

const fence = /^```(ts|typescript)([^\n]*)\n([\s\S]*?)^```/gm;
const snippets = new Map(); // virtual path -> { source, origin }
function addSnippets(text, file, firstLine = 1) {
  for (const match of text.matchAll(fence)) {
    if (match[2].includes('no-check')) continue;
    const line = firstLine - 1 + text.slice(0, match.index).split('\n').length;
    // Snippets live beside the contract tests so `@sidecarless/*` resolves like user code would.
    const virtual = join(root, 'tests', 'contract', `.doc-snippet-${snippets.size}.mts`);
    snippets.set(virtual, {
      source: `${match[3]}\nexport {};\n`,
      origin: `${relative(root, file)}:${line + 1}`,
    });
  }
}
for (const file of markdownFiles()) addSnippets(readFileSync(file, 'utf8'), file);
let tsdocExamples = 0;
for (const file of sourceFiles()) {
  const text = readFileSync(file, 'utf8');
  for (const comment of text.matchAll(/\/\*\*[\s\S]*?\*\//g)) {
    if (!comment[0].includes('@example')) continue;
    const before = snippets.size;
    const firstLine = text.slice(0, comment.index).split('\n').length;
    addSnippets(tsdocText(comment[0]).slice(tsdocText(comment[0]).indexOf('@example')), file, firstLine);
    tsdocExamples += snippets.size - before;
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
console.log(
  `doc snippets: ${snippets.size} checked (${tsdocExamples} of them TSDoc examples), ${diagnostics.length} problems`,
);
process.exit(diagnostics.length === 0 ? 0 : 1);
