import type { AnyObject } from '../../api/index.ts';
import { objectKey } from '../../api/index.ts';
import { fieldDiff, type FieldChange } from './fields.ts';
import { nextDesiredRecord, objectHash, type DesiredRecord } from './record.ts';
import { stageIndex, stageOf, type ApplyStage } from './stages.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

/** PRUNE_ANNOTATION set to PRUNE_DISABLED on an object keeps it when it disappears from Git. */
export const PRUNE_ANNOTATION = 'gitcell.io/prune';
/** PRUNE_DISABLED is the PRUNE_ANNOTATION value that opts an object out of prune. */
export const PRUNE_DISABLED = 'disabled';

/** PlanItem is an object to create or update, with its apply stage. */
export interface PlanItem {
  key: string;
  kind: string;
  stage: ApplyStage;
  object: AnyObject;
  /** specHash is objectHash(object), computed once by the plan. */
  specHash: string;
}

/** PlanUpdate is an object whose content changed, with the field-level changes (Secret values redacted). */
export interface PlanUpdate extends PlanItem {
  changes: FieldChange[];
}

/** PruneItem is an inventory object gone from Git. */
export interface PruneItem {
  key: string;
  kind: string;
  stage: ApplyStage;
}

/** Plan is what applying a revision does to the `desired` bucket. Lists are in apply order. */
export interface Plan {
  /** create and update in stage order (definitions, secrets, workloads), then by key. */
  create: PlanItem[];
  update: PlanUpdate[];
  unchanged: string[];
  /** prune in reverse stage order (workloads before the Secrets and CRDs they use). */
  prune: PruneItem[];
  /** Inventory objects gone from Git that stay, because they carry `gitcell.io/prune: disabled`. */
  keep: { key: string; reason: string }[];
  /** Set when the plan must not be applied: the revision would prune the whole inventory. */
  refused?: { code: typeof ErrorCodes.PruneAll; message: string };
}

/** PlanOptions tune planDiff. */
export interface PlanOptions {
  /** allowPruneAll lets a revision prune every inventory object (an emptied repository on purpose). */
  allowPruneAll?: boolean;
  /**
   * hashCache remembers objectHash per object instance across plans. Only for objects that are
   * never mutated (the manifest loader's parse cache hands out the same read-only objects for
   * unchanged files), so a commit that changes one object of a thousand hashes one.
   */
  hashCache?: WeakMap<AnyObject, string>;
}

/**
 * planDiff compares the desired objects of a revision with the current `desired` bucket and says
 * what to create, update (with a field-level diff), leave, and prune. Prune works on the inventory
 * only: records of origin `git`; objects a controller made (a CronJob's Jobs) are never pruned here.
 * A revision that would prune every inventory object (those opted out of prune aside) is refused
 * unless `allowPruneAll`: an empty checkout or a wrong sub-path must not wipe the cluster. Pure; `plan` renders the same result.
 */
export function planDiff(desired: readonly AnyObject[], current: Iterable<DesiredRecord>, options: PlanOptions = {}): Plan {
  const byKey = new Map<string, DesiredRecord>();
  for (const r of current) byKey.set(r.key, r);
  const plan: Plan = { create: [], update: [], unchanged: [], prune: [], keep: [] };
  const wanted = new Set<string>();
  for (const object of desired) {
    const key = objectKey(object);
    wanted.add(key);
    const prev = byKey.get(key);
    let specHash = options.hashCache?.get(object);
    if (specHash === undefined) {
      specHash = objectHash(object);
      options.hashCache?.set(object, specHash);
    }
    const item = { key, kind: object.kind, stage: stageOf(object.kind), object, specHash };
    if (!prev) plan.create.push(item);
    else if (prev.specHash !== specHash || prev.origin.type !== 'git') {
      plan.update.push({ ...item, changes: fieldDiff(prev.object, object, redactorFor(object.kind)) });
    } else plan.unchanged.push(key);
  }
  let inventory = 0;
  for (const r of byKey.values()) {
    if (r.origin.type !== 'git') continue;
    inventory++;
    if (wanted.has(r.key)) continue;
    if (r.object.metadata.annotations?.[PRUNE_ANNOTATION] === PRUNE_DISABLED) {
      plan.keep.push({ key: r.key, reason: `annotation ${PRUNE_ANNOTATION}: ${PRUNE_DISABLED}` });
    } else {
      plan.prune.push({ key: r.key, kind: r.object.kind, stage: stageOf(r.object.kind) });
    }
  }
  const applyOrder = (a: PlanItem, b: PlanItem) => stageIndex(a.kind) - stageIndex(b.kind) || cmp(a.key, b.key);
  plan.create.sort(applyOrder);
  plan.update.sort(applyOrder);
  plan.unchanged.sort(cmp);
  plan.prune.sort((a, b) => stageIndex(b.kind) - stageIndex(a.kind) || cmp(a.key, b.key));
  plan.keep.sort((a, b) => cmp(a.key, b.key));
  if (!options.allowPruneAll && plan.prune.length > 0 && plan.prune.length === inventory - plan.keep.length) {
    plan.refused = {
      code: ErrorCodes.PruneAll,
      message: `the revision would prune all ${plan.prune.length} objects gitcell manages; refusing (set allowPruneAll to do it on purpose)`,
    };
  }
  return plan;
}

/** planIsEmpty tells whether a plan changes nothing. */
export function planIsEmpty(plan: Plan): boolean {
  return plan.create.length === 0 && plan.update.length === 0 && plan.prune.length === 0;
}

/**
 * applyPlanToRecords is the pure model of applying a plan: the bucket contents afterwards. The
 * apply path writes exactly these records, so `planDiff` of the same revision afterwards is empty.
 */
export function applyPlanToRecords(current: Iterable<DesiredRecord>, plan: Plan, revision: string, now: string): Map<string, DesiredRecord> {
  const out = new Map<string, DesiredRecord>();
  for (const r of current) out.set(r.key, r);
  if (plan.refused) return out;
  for (const item of [...plan.create, ...plan.update]) {
    out.set(item.key, nextDesiredRecord(out.get(item.key), item.object, { type: 'git', revision }, now, item.specHash));
  }
  for (const p of plan.prune) out.delete(p.key);
  return out;
}

// Secret values never show in a plan: only which key changed.
function redactorFor(kind: string): (path: string) => boolean {
  if (kind !== 'Secret') return () => false;
  return (path) => /^spec\.(data|stringData|encryptedData)\./.test(path);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
