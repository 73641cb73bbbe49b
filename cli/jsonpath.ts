/**
 * The `-o jsonpath=TEMPLATE` subset of kubectl's JSONPath templates, evaluated on the value `-o json`
 * prints. Hand-written on purpose: kubectl's template layer (literal text between `{...}`, several
 * results joined by spaces, `{range}`/`{end}`) is not what JSONPath libraries implement, and the
 * popular one evaluates filter expressions as JavaScript (jsonpath-plus, CVE-2024-21534); this
 * subset has no expressions at all, so a template can never run code.
 *
 * Supported, inside `{...}`:
 *   `.field`  `['field']` / `["field"]`  `[N]` (negative counts from the end)  `[*]` / `.*`
 *   `..field` (recursive descent)  `@` / `$` (the current / root value)
 *   `{range EXPR}...{end}` (the inner template once per result)  `{"text"}` (a literal, with \n \t)
 * Outside braces: literal text; `\n` and `\t` are turned into a newline and a tab.
 */
import { GitcellError, UsageError } from '../lib/errors.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

type Step = { t: 'field'; name: string } | { t: 'index'; i: number } | { t: 'all' } | { t: 'descend'; name: string };
type Node = { t: 'text'; text: string } | { t: 'path'; steps: Step[] } | { t: 'range'; steps: Step[]; body: Node[] };

/** jsonpath renders `template` against `root` (kubectl's `-o jsonpath=`), E_USAGE on a bad template. */
export function jsonpath(template: string, root: unknown): string {
  return render(parseTemplate(template), root, root);
}

function usage(template: string, why: string): GitcellError {
  return new UsageError(ErrorCodes.Usage, `-o jsonpath=${template}: ${why}`, { flag: '-o' });
}

function unescape(s: string): string {
  return s.replace(/\\([nt\\])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

/** parseTemplate splits a template into text, paths and ranges. */
function parseTemplate(template: string): Node[] {
  const root: Node[] = [];
  const stack: Node[][] = [root];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    const top = stack.at(-1)!;
    if (open < 0) {
      top.push({ t: 'text', text: unescape(template.slice(i)) });
      break;
    }
    if (open > i) top.push({ t: 'text', text: unescape(template.slice(i, open)) });
    const close = closingBrace(template, open);
    if (close < 0) throw usage(template, `unclosed "{" at ${open + 1}`);
    const inner = template.slice(open + 1, close).trim();
    i = close + 1;
    const lit = /^"((?:[^"\\]|\\.)*)"$|^'((?:[^'\\]|\\.)*)'$/.exec(inner);
    if (lit) top.push({ t: 'text', text: unescape(lit[1] ?? lit[2] ?? '') });
    else if (inner === 'end') {
      if (stack.length === 1) throw usage(template, '{end} without {range}');
      stack.pop();
    } else if (inner.startsWith('range ')) {
      const body: Node[] = [];
      top.push({ t: 'range', steps: parsePath(inner.slice(6).trim(), template), body });
      stack.push(body);
    } else top.push({ t: 'path', steps: parsePath(inner, template) });
  }
  if (stack.length > 1) throw usage(template, '{range} without {end}');
  return root;
}

function closingBrace(s: string, open: number): number {
  let quote = '';
  for (let j = open + 1; j < s.length; j++) {
    const c = s[j]!;
    if (quote) {
      if (c === '\\') j++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '}') return j;
  }
  return -1;
}

/** parsePath turns `.items[*].metadata['name']` into steps. */
function parsePath(expr: string, template: string): Step[] {
  const steps: Step[] = [];
  let s = expr.replace(/^[$@]/, '');
  while (s.length) {
    let m: RegExpExecArray | null;
    if ((m = /^\.\.([A-Za-z0-9_-]+)/.exec(s))) steps.push({ t: 'descend', name: m[1]! });
    else if ((m = /^\.\*/.exec(s)) || (m = /^\[\*\]/.exec(s))) steps.push({ t: 'all' });
    else if ((m = /^\.([A-Za-z0-9_$-]+)/.exec(s))) steps.push({ t: 'field', name: m[1]! });
    else if ((m = /^\[(-?\d+)\]/.exec(s))) steps.push({ t: 'index', i: Number(m[1]) });
    else if ((m = /^\[\s*'([^']*)'\s*\]/.exec(s)) || (m = /^\[\s*"([^"]*)"\s*\]/.exec(s))) steps.push({ t: 'field', name: m[1]! });
    else if ((m = /^\.$/.exec(s))) break;
    else throw usage(template, `cannot read "${s}" (supported: .field, ['field'], [N], [*], ..field, {range}, {end})`);
    s = s.slice(m[0].length);
  }
  return steps;
}

/** evaluate applies steps to a value; each step maps every current result (missing fields drop out). */
function evaluate(steps: Step[], value: unknown): unknown[] {
  let cur: unknown[] = [value];
  for (const st of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (st.t === 'field') {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && st.name in v) next.push((v as Record<string, unknown>)[st.name]);
      } else if (st.t === 'index') {
        if (Array.isArray(v)) {
          const x = v.at(st.i);
          if (x !== undefined) next.push(x);
        }
      } else if (st.t === 'all') {
        if (Array.isArray(v)) next.push(...v);
        else if (v !== null && typeof v === 'object') next.push(...Object.values(v));
      } else next.push(...descend(v, st.name));
    }
    cur = next;
  }
  return cur;
}

function descend(v: unknown, name: string): unknown[] {
  if (v === null || typeof v !== 'object') return [];
  const out: unknown[] = [];
  if (!Array.isArray(v) && name in v) out.push((v as Record<string, unknown>)[name]);
  for (const child of Object.values(v)) out.push(...descend(child, name));
  return out;
}

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  return v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function render(nodes: Node[], current: unknown, root: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.text;
    else if (n.t === 'path') out += evaluate(n.steps, current).map(show).join(' ');
    else for (const item of evaluate(n.steps, current)) out += render(n.body, item, root);
  }
  return out;
}
