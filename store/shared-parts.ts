/**
 * Codecs of the task buckets whose decoded records share their repeated parts. Every task of a Job
 * generation carries the same template (a dozen small objects and arrays, ~0.6 KB decoded), owner,
 * job key and template hash, and thousands of statuses and bindings name the same few nodes: a
 * copy of 100,000 tasks held 100,000 equal templates (heap snapshot of the reconciler at the end of
 * `npm run bench -- scale --quick`: ~1,180 B per task spec in an informer).
 *
 * A decoded part is replaced by the one kept under the same key only when both are equal as JSON,
 * keys in the same order (`sameJson`), so a reader sees exactly the value it would have seen; only
 * identity differs, and decoded records are never mutated (the reconciler already hands one
 * template object to every task it makes). The kept parts are bounded: a full table starts over.
 *
 * The same identity saves the writer's work: a task's JSON text splices in its template's text,
 * serialised once per template object (`taskEncoder`); JSON.stringify of each whole task was ~7 % of
 * the reconciler's commit-phase CPU at 10,000 nodes, 100 tasks per template.
 */
import type { Binding, TaskSpec, TaskStatus } from '../api/index.ts';
import type { RecordCodec } from './record.ts';

/** sameJson tells whether two decoded JSON values are equal, object keys in the same order. Pure. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || !sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

/** SharedParts keeps one value per key (bounded); `share` hands back the kept one when equal. */
export class SharedParts {
  private readonly kept = new Map<string, unknown>();

  constructor(private readonly max = 65_536) {}

  /** share returns the value kept under `key` if it equals `value` as JSON; else keeps `value` and returns it. */
  share<V>(key: string, value: V): V {
    const had = this.kept.get(key);
    if (had !== undefined && sameJson(had, value)) return had as V;
    if (this.kept.size >= this.max) this.kept.clear();
    this.kept.set(key, value);
    return value;
  }

  /** string returns the kept string equal to `s` (a string is its own key). */
  string(s: string): string {
    return this.share(s, s);
  }
}

type Decode<T> = (data: object) => T;

/**
 * sharingDecoders are the decodes of the task buckets' records (called on a checked JSON object),
 * each codec with tables of its own. Malformed parts are left as they are (the readers' checks
 * judge them), never thrown on.
 */
export const sharingDecoders = {
  tasks(): Decode<TaskSpec> {
    const strings = new SharedParts();
    const templates = new SharedParts(4_096);
    const owners = new SharedParts(16_384);
    return (data) => {
      const t = data as TaskSpec;
      if (typeof t.templateHash === 'string') {
        t.templateHash = strings.string(t.templateHash);
        if (typeof t.template === 'object' && t.template !== null) t.template = templates.share(t.templateHash, t.template);
      }
      if (typeof t.jobKey === 'string') {
        t.jobKey = strings.string(t.jobKey);
        if (typeof t.owner === 'object' && t.owner !== null) t.owner = owners.share(t.jobKey, t.owner);
      }
      if (typeof t.namespace === 'string') t.namespace = strings.string(t.namespace);
      if (typeof t.nodeName === 'string') t.nodeName = strings.string(t.nodeName);
      return t;
    };
  },
  status(): Decode<TaskStatus> {
    const strings = new SharedParts();
    return (data) => {
      const s = data as TaskStatus;
      if (typeof s.node === 'string') s.node = strings.string(s.node);
      if (typeof s.templateHash === 'string') s.templateHash = strings.string(s.templateHash);
      return s;
    };
  },
  bindings(): Decode<Binding> {
    const strings = new SharedParts();
    return (data) => {
      const b = data as Binding;
      if (typeof b.node === 'string') b.node = strings.string(b.node);
      return b;
    };
  },
} as const;

/** TEMPLATE_MARK is what a task's template is serialised as before its text is spliced in. */
const TEMPLATE_MARK = '\u0000gitcell:template';
/** TEMPLATE_MARK_JSON is the top-level `template` property with the mark, as JSON.stringify writes it. */
const TEMPLATE_MARK_JSON = `"template":${JSON.stringify(TEMPLATE_MARK)}`;

/**
 * taskEncoder returns a function that gives exactly `JSON.stringify(task)`: the task is serialised
 * with a short mark for its template (key order kept: the copy overrides the key in place), and the
 * template's text, cached by the template object's identity (a WeakMap: it lives as long as the
 * template), replaces the mark. Sound because a TaskSpec's template is never mutated once made (see
 * the file comment). The mark's JSON text occurs nowhere else (inside a JSON string every quote is
 * escaped); when it does anyway (a nested key "template" with the mark's value), or the value is not
 * a plain task, the task gets JSON.stringify itself. ~2.3 against ~4.1 µs for a 630-byte task.
 */
export function taskEncoder(): (task: TaskSpec) => string {
  const texts = new WeakMap<object, string>();
  return (task) => {
    const template = (task as { template?: unknown }).template;
    if (typeof template !== 'object' || template === null || typeof (task as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(task);
    let text = texts.get(template);
    if (text === undefined) texts.set(template, (text = JSON.stringify(template)));
    const marked = JSON.stringify({ ...task, template: TEMPLATE_MARK });
    const at = marked.indexOf(TEMPLATE_MARK_JSON);
    if (at < 0 || marked.includes(TEMPLATE_MARK_JSON, at + 1)) return JSON.stringify(task);
    const value = at + '"template":'.length;
    return marked.slice(0, value) + text + marked.slice(at + TEMPLATE_MARK_JSON.length);
  };
}

/** SharingRole is a bucket whose records share their parts. */
export type SharingRole = keyof typeof sharingDecoders;

/** isSharingRole tells whether `role`'s records share their parts. */
export function isSharingRole(role: string): role is SharingRole {
  return Object.hasOwn(sharingDecoders, role);
}

/**
 * withSharing wraps an object codec's decode with the role's sharing decode, and gives the tasks
 * bucket's codec the template-splicing encode (see the file comment).
 */
export function withSharing<T>(codec: RecordCodec<T>, role: SharingRole): RecordCodec<T> {
  const share = sharingDecoders[role]() as Decode<unknown>;
  const decode = codec.decode;
  const shared: RecordCodec<T> = { ...codec, decode: (data, schema) => share((decode ? decode(data, schema) : data) as object) as T };
  if (role === 'tasks') shared.encode = taskEncoder() as unknown as (value: T) => string;
  return shared;
}
