/**
 * Kinds the client commands (get, describe) know by name: the built-in ones and the user kinds of
 * the CustomResourceDefinitions applied to the cluster, each by kind, plural, singular or short
 * name, case-insensitive (`get Database`, `get databases`, `get db`). Also kubectl's label
 * selectors (`-l app=web,tier!=db,env in (a,b),!legacy`). Pure.
 */
import { UsageError } from '../lib/errors.ts';
import { closest } from '../reconciler/validate/format.ts';
import type { CustomResourceDefinitionSpec, Requirement } from '../api/index.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** KindInfo names a kind the way users may type it. */
export interface KindInfo {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  /** false for nodes and CRDs: -n and -A do not apply */
  namespaced: boolean;
  /** a user kind (defined by a CRD) */
  custom?: boolean;
}

/** BUILTIN_KINDS are the kinds gitcell itself defines (tasks and nodes are records, not manifests). */
export const BUILTIN_KINDS: readonly KindInfo[] = [
  { kind: 'Job', plural: 'jobs', singular: 'job', shortNames: [], namespaced: true },
  { kind: 'Task', plural: 'tasks', singular: 'task', shortNames: [], namespaced: true },
  { kind: 'Node', plural: 'nodes', singular: 'node', shortNames: ['no'], namespaced: false },
  { kind: 'DaemonSet', plural: 'daemonsets', singular: 'daemonset', shortNames: ['ds'], namespaced: true },
  { kind: 'CronJob', plural: 'cronjobs', singular: 'cronjob', shortNames: ['cj'], namespaced: true },
  { kind: 'Secret', plural: 'secrets', singular: 'secret', shortNames: [], namespaced: true },
  { kind: 'Service', plural: 'services', singular: 'service', shortNames: ['svc'], namespaced: true },
  { kind: 'CustomResourceDefinition', plural: 'customresourcedefinitions', singular: 'customresourcedefinition', shortNames: ['crd', 'crds'], namespaced: false },
];

/** customKinds turns the CRDs' specs into KindInfos. */
export function customKinds(crds: readonly CustomResourceDefinitionSpec[]): KindInfo[] {
  return crds.map((s) => ({
    kind: s.names.kind,
    plural: s.names.plural,
    singular: s.names.singular ?? s.names.kind.toLowerCase(),
    shortNames: s.names.shortNames ?? [],
    namespaced: true,
    custom: true,
  }));
}

function namesOf(k: KindInfo): string[] {
  return [k.kind, k.plural, k.singular, ...k.shortNames];
}

/** resolveKind finds the kind `name` means; E_USAGE naming the known kinds (and the closest) otherwise. */
export function resolveKind(name: string, kinds: readonly KindInfo[]): KindInfo {
  const n = name.toLowerCase();
  const found = kinds.find((k) => namesOf(k).some((x) => x.toLowerCase() === n));
  if (found) return found;
  // Plurals first: on a tie the suggestion is the name `get` lists by.
  const guess = closest(name, [...kinds.map((k) => k.plural), ...kinds.flatMap((k) => [k.singular, ...k.shortNames])]);
  const known = kinds.map((k) => k.plural).join(', ');
  throw new UsageError(ErrorCodes.Usage, `unknown resource "${name}"${guess ? ` (did you mean "${guess}"?)` : ''}: expected one of ${known}`, { resource: name });
}

const KEY = '[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?';

/** parseSelector reads a kubectl label selector; E_USAGE naming the bad term. */
export function parseSelector(selector: string): Requirement[] {
  // Split on the commas outside parentheses: `env in (a,b),tier` is two terms.
  const terms: string[] = [''];
  let depth = 0;
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0 || depth > 1) break;
    if (ch === ',' && depth === 0) terms.push('');
    else terms[terms.length - 1] += ch;
  }
  if (depth !== 0) throw new UsageError(ErrorCodes.Usage, `-l ${selector}: unbalanced parentheses`, { flag: '-l' });
  return terms
    .map((t) => t.trim())
    .filter((t) => t !== '')
    .map((t) => {
      let m: RegExpExecArray | null;
      if ((m = new RegExp(`^(${KEY})\\s*(!=|==|=)\\s*([-A-Za-z0-9_.]*)$`).exec(t))) {
        return { key: m[1]!, op: m[3] === '!=' ? 'notin' : 'in', values: [m[4]!] } as Requirement;
      }
      if ((m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(t))) {
        return { key: m[1]!, op: m[3] as 'in' | 'notin', values: m[4]!.split(',').map((v) => v.trim()).filter((v) => v !== '') } as Requirement;
      }
      if ((m = new RegExp(`^!\\s*(${KEY})$`).exec(t))) return { key: m[1]!, op: 'notexists' } as Requirement;
      if ((m = new RegExp(`^(${KEY})$`).exec(t))) return { key: m[1]!, op: 'exists' } as Requirement;
      throw new UsageError(ErrorCodes.Usage, `-l ${selector}: cannot read "${t}" (expected key=value, key!=value, key in (a,b), key notin (a,b), key or !key)`, { flag: '-l' });
    });
}
