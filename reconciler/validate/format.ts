// Renders problems the way people and tools read them: `FILE:LINE:COL: KIND/NAME: FIELD.PATH: message`.
import type { FieldPath, Problem } from '../manifests/index.ts';

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** formatFieldPath renders a path as `spec.template.ports[0].containerPort`; odd keys are quoted: `labels["gitcell.io/tier"]`. */
export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (IDENT.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** formatObjectRef renders `KIND/NAME` of a problem (`?` for a missing part), `-` when the problem is about a file rather than an object. */
export function formatObjectRef(p: Pick<Problem, 'kind' | 'name'>): string {
  if (p.kind === undefined && p.name === undefined) return '-';
  return `${p.kind ?? '?'}/${p.name ?? '?'}`; // no spaces: the line stays splittable
}

/** formatProblem renders one problem as one line: `FILE:LINE:COL: KIND/NAME: FIELD.PATH: message` (`-` for an absent part). */
export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${formatObjectRef(p)}: ${p.path || '-'}: ${p.message.replace(/\s*\n\s*/g, ' ')}`;
}

/** compareProblems orders problems by file, line, column, then message, for stable output. */
export function compareProblems(a: Problem, b: Problem): number {
  if (a.file !== b.file) return a.file < b.file ? -1 : 1;
  if (a.line !== b.line) return a.line - b.line;
  if (a.column !== b.column) return a.column - b.column;
  const pa = a.path ?? '';
  const pb = b.path ?? '';
  if (pa !== pb) return pa < pb ? -1 : 1;
  return a.message < b.message ? -1 : a.message > b.message ? 1 : 0;
}

/** quote renders a value for a message, shortened so a huge string cannot flood the output. */
export function quote(value: unknown): string {
  let s: string;
  try {
    s = value === undefined ? 'nothing' : typeof value === 'object' && value !== null ? (Array.isArray(value) ? 'a list' : 'a mapping') : JSON.stringify(value);
  } catch {
    s = String(value);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** describeType names the JSON type of a value the way the schemas do. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'object') return 'object';
  return typeof value;
}

/** closest returns the candidate nearest to `word` by edit distance when it is a plausible typo, else undefined. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase(), bestDist);
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap || a.length > 64 || b.length > 64) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
