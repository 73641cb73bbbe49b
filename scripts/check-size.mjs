#!/usr/bin/env node
// `node scripts/check-size.mjs` holds the project's size rules over every TypeScript file of the
// project (tsconfig.json), read with the TypeScript compiler's own parser:
//
//   no function, method, constructor or arrow function over MAX_FUNCTION_LINES lines (under test/
//     too, except the test() / describe() callbacks, which are cases, not steps: their lines count
//     neither alone nor in the function around them);
//   no source file over MAX_FILE_LINES lines unless a comment in its first lines says why
//     ("Over 400 lines ..."); *.test.ts files are not held to it.
//
// Lines are counted from the function's first token (its doc comment excluded) to its closing
// brace, both included; a function's lines include the functions nested in it, so a long
// orchestrator cannot hide its length in closures. Exit 1 with one line per breach, 0 when none;
// `--list N` prints the N longest functions and files whatever their size.
import { API } from 'typescript/unstable/sync';
import { SyntaxKind } from 'typescript/unstable/ast';
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** MAX_FUNCTION_LINES is the longest a function may be (the project guide: short functions). */
export const MAX_FUNCTION_LINES = 80;
/** MAX_FILE_LINES is the longest a source file may be without a stated reason at its top. */
export const MAX_FILE_LINES = 400;
/** REASON_WINDOW is how many first lines of a file may hold the "Over 400 lines" reason. */
const REASON_WINDOW = 30;
const REASON = /over 400 lines/i;

const FUNCTION_KINDS = new Set([
  SyntaxKind.FunctionDeclaration, SyntaxKind.MethodDeclaration, SyntaxKind.Constructor, SyntaxKind.GetAccessor,
  SyntaxKind.SetAccessor, SyntaxKind.ArrowFunction, SyntaxKind.FunctionExpression,
]);
const TEST_CALLEES = new Set(['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach']);

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** functionName says what a reader would search for: the declared name, or the binding it is assigned to. */
function functionName(node) {
  if (node.name) return node.name.text ?? node.name.getText();
  if (node.kind === SyntaxKind.Constructor) return 'constructor';
  const p = node.parent;
  if (p && (p.kind === SyntaxKind.VariableDeclaration || p.kind === SyntaxKind.PropertyAssignment || p.kind === SyntaxKind.PropertyDeclaration) && p.name) {
    return p.name.text ?? p.name.getText();
  }
  if (p && p.kind === SyntaxKind.CallExpression) {
    const callee = p.expression.getText();
    // commander: program.command('agent')....action(async () => ...) is "the action of command agent"
    const command = /\.command\((['"])([^'"]+)\1\)/.exec(callee);
    if (command && callee.endsWith('.action')) return `(action of command ${command[2]})`;
    return `(callback of ${callee.replace(/\s+/g, '').slice(-40)})`;
  }
  return '(anonymous)';
}

/** isTestCallback tells a test()/describe() body of a test file: a table of cases, not a function to split. */
function isTestCallback(node) {
  const p = node.parent;
  if (!p || p.kind !== SyntaxKind.CallExpression) return false;
  // test(...), t.test(...), describe(...)
  const callee = p.expression.kind === SyntaxKind.PropertyAccessExpression ? p.expression.name : p.expression;
  return callee.kind === SyntaxKind.Identifier && TEST_CALLEES.has(callee.text);
}

function lineOf(sf, pos) {
  return sf.getLineAndCharacterOfPosition(pos).line + 1;
}

/** measure returns every function of one file with its length, and the file's length and reason. */
function measure(sf, rel) {
  const isTest = rel.endsWith('.test.ts');
  const inTests = rel.startsWith('test/');
  const functions = [];
  // Each open function on the way down, with the test-callback lines found inside it so far.
  const open = [];
  const visit = (node) => {
    const isFunction = FUNCTION_KINDS.has(node.kind) && node.body;
    if (isFunction && inTests && isTestCallback(node)) {
      // a test case: not measured, and its lines do not count against the function around it
      const lines = lineOf(sf, node.getEnd()) - lineOf(sf, node.getStart(sf)) + 1;
      for (const f of open) f.testLines += lines;
      return;
    }
    if (!isFunction) {
      node.forEachChild(visit);
      return;
    }
    const start = lineOf(sf, node.getStart(sf));
    const f = { file: rel, line: start, name: functionName(node), lines: lineOf(sf, node.getEnd()) - start + 1, testLines: 0 };
    open.push(f);
    node.forEachChild(visit);
    open.pop();
    functions.push({ file: f.file, line: f.line, name: f.name, lines: f.lines - f.testLines });
  };
  sf.forEachChild(visit);
  const text = readFileSync(join(root, rel), 'utf8');
  const all = text.split('\n');
  const lines = all.length - (text.endsWith('\n') ? 1 : 0);
  const reason = all.slice(0, REASON_WINDOW).some((l) => REASON.test(l));
  return { file: { file: rel, lines, reason, isTest }, functions };
}

/** check reads the project and returns every function and file with its length. */
export function check() {
  const api = new API({ cwd: root });
  try {
    const snapshot = api.updateSnapshot({ openProjects: [join(root, 'tsconfig.json')] });
    const project = snapshot.getProjects()[0];
    const files = [];
    const functions = [];
    for (const name of project.program.getSourceFileNames()) {
      const rel = relative(root, name);
      if (rel.startsWith('..') || rel.includes('node_modules/') || rel.endsWith('.d.ts')) continue;
      const m = measure(project.program.getSourceFile(name), rel);
      files.push(m.file);
      functions.push(...m.functions);
    }
    return { files, functions };
  } finally {
    api.close();
  }
}

/** breaches lists what breaks the rules, one line each. */
export function breaches({ files, functions }) {
  const out = [];
  for (const f of functions) {
    if (f.lines > MAX_FUNCTION_LINES) out.push(`${f.file}:${f.line}: function ${f.name} has ${f.lines} lines (at most ${MAX_FUNCTION_LINES})`);
  }
  for (const f of files) {
    if (!f.isTest && f.lines > MAX_FILE_LINES && !f.reason) {
      out.push(`${f.file}: ${f.lines} lines (at most ${MAX_FILE_LINES}, or say "Over 400 lines: why" in its first ${REASON_WINDOW} lines)`);
    }
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = check();
  const listAt = process.argv.indexOf('--list');
  if (listAt >= 0) {
    const n = Number(process.argv[listAt + 1] ?? 20);
    for (const f of [...result.functions].sort((a, b) => b.lines - a.lines).slice(0, n)) console.log(`${String(f.lines).padStart(5)}  ${f.file}:${f.line} ${f.name}`);
    console.log('');
    for (const f of [...result.files].filter((f) => !f.isTest).sort((a, b) => b.lines - a.lines).slice(0, n)) {
      console.log(`${String(f.lines).padStart(5)}  ${f.file}${f.reason ? ' (reason stated)' : ''}`);
    }
    process.exit(0);
  }
  const found = breaches(result);
  for (const line of found) console.error(line);
  const nf = result.functions.length;
  console.error(`check-size: ${found.length} breach(es) in ${result.files.length} files, ${nf} functions`);
  process.exit(found.length ? 1 : 0);
}
