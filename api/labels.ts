/**
 * Label selectors, the one implementation every part uses: the scheduler's nodeSelector filter and
 * the Service endpoints controller match equality selectors (Kubernetes `matchLabels`: every
 * `key: value` present with that value); the CLI's `-l` matches set-based requirements (`in`,
 * `notin`, exists, `!key`), parsed by cli/kinds.ts. Pure.
 */

/** EqualitySelector is a `key: value` map, or the same as pairs (the scheduler precomputes them). */
export type EqualitySelector = Readonly<Record<string, string>> | readonly (readonly [string, string])[];

/**
 * selectorMatches tells whether `labels` carry every `key: value` of `selector` (an empty selector
 * matches everything; missing labels match only an empty selector).
 */
export function selectorMatches(selector: EqualitySelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  const pairs = Array.isArray(selector) ? (selector as readonly (readonly [string, string])[]) : Object.entries(selector);
  for (const [k, v] of pairs) if (labels?.[k] !== v) return false;
  return true;
}

/** formatSelector renders an equality selector as `k=v,k2=v2`, keys sorted. */
export function formatSelector(selector: EqualitySelector): string {
  const pairs = Array.isArray(selector) ? (selector as readonly (readonly [string, string])[]) : Object.entries(selector);
  return pairs.map(([k, v]) => `${k}=${v}`).sort().join(',');
}

/** Requirement is one term of a set-based label selector (kubectl `-l`). */
export type Requirement =
  | { key: string; op: 'exists' | 'notexists' }
  | { key: string; op: 'in' | 'notin'; values: string[] };

/** requirementsMatch tells whether labels satisfy every requirement (an empty selector matches all). */
export function requirementsMatch(reqs: readonly Requirement[], labels: Readonly<Record<string, string>>): boolean {
  return reqs.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'notexists':
        return !has;
      case 'in':
        return has && r.values.includes(labels[r.key]!);
      case 'notin':
        return !has || !r.values.includes(labels[r.key]!);
    }
  });
}
