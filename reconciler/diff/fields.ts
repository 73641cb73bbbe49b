/** FieldChange is one leaf difference between two objects, at a dotted path like `spec.template.image`. */
export interface FieldChange {
  path: string;
  op: 'add' | 'remove' | 'replace';
  from?: unknown;
  to?: unknown;
}

/** REDACTED stands in for a Secret value in a diff: plans show which key changed, never the value. */
export const REDACTED = '(redacted)';

/**
 * fieldDiff lists the leaf differences from `a` to `b`, in path order. Objects recurse by key,
 * arrays by position (a longer array adds, a shorter removes). `redact(path)` true hides the values
 * at and under that path. Pure.
 */
export function fieldDiff(a: unknown, b: unknown, redact: (path: string) => boolean = () => false): FieldChange[] {
  const out: FieldChange[] = [];
  walk(a, b, '', out, redact);
  return out;
}

function walk(a: unknown, b: unknown, path: string, out: FieldChange[], redact: (path: string) => boolean): void {
  if (a === undefined && b === undefined) return;
  const hide = path !== '' && redact(path);
  if (a === undefined) {
    out.push({ path, op: 'add', to: hide ? REDACTED : b });
    return;
  }
  if (b === undefined) {
    out.push({ path, op: 'remove', from: hide ? REDACTED : a });
    return;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) walk(a[k], b[k], path === '' ? k : `${path}.${k}`, out, redact);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) walk(a[i], b[i], `${path}[${i}]`, out, redact);
    return;
  }
  if (!Object.is(a, b) && JSON.stringify(a) !== JSON.stringify(b)) {
    out.push({ path, op: 'replace', from: hide ? REDACTED : a, to: hide ? REDACTED : b });
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
