import type { RolloutResult } from '../../api/index.ts';
import type { Condition } from '../controllers/index.ts';

/** PHASES are reconcileRevision's phases, in order (Flux kustomize-controller's shape). */
export const PHASES = ['read', 'validate', 'build', 'diff', 'apply', 'prune', 'health', 'status'] as const;

/** Phase is one of PHASES. */
export type Phase = (typeof PHASES)[number];

/**
 * Inventory is the per-object inventory of a source as of its last applied revision: every object
 * gitcell applied from Git, as `Kind/namespace/name@generation`, sorted. It lives in its own `sync`
 * key (`inventory.<source>`), written once per applied revision, so the status record written
 * before every phase stays small even with 10,000 objects (NATS payloads are bounded).
 */
export interface Inventory {
  kind: 'Inventory';
  source: string;
  revision: string;
  entries: string[];
  updatedAt: string;
}

/** InventoryEntry is one parsed Inventory entry. */
export interface InventoryEntry {
  key: string;
  kind: string;
  namespace: string;
  name: string;
  generation: number;
}

/** parseInventoryEntry reads `Kind/namespace/name@generation`. */
export function parseInventoryEntry(entry: string): InventoryEntry {
  const at = entry.lastIndexOf('@');
  const key = entry.slice(0, at);
  const [kind = '', namespace = '', name = ''] = key.split('/');
  return { key, kind, namespace, name, generation: Number(entry.slice(at + 1)) };
}

/** HistoryEntry is one reconcile attempt: what, how it ended, how long each phase took. */
export interface HistoryEntry {
  revision: string;
  result: 'Applied' | 'Unchanged' | 'Stalled' | 'Failed';
  message: string;
  startedAt: string;
  durationMs: number;
  phases: { phase: Phase; durationMs: number }[];
  counts?: { created: number; updated: number; unchanged: number; pruned: number };
}

/** HISTORY_LIMIT bounds SyncStatus.history (newest first). */
export const HISTORY_LIMIT = 10;

/** ValidationMessage is one problem of a revision, with file and line. */
export interface ValidationMessage {
  file: string;
  line: number;
  column: number;
  code: string;
  message: string;
  object?: string;
  path?: string;
}

/**
 * SyncStatus is a source's status in the `sync` bucket (key `source.<name>`), written at the end of
 * every reconcile, success or failure, and updated with a progress `Reconciling` condition before
 * each phase. Readers: `gitcell status`, the rollback loop (failedRollouts), tests.
 */
export interface SyncStatus {
  kind: 'SyncStatus';
  source: string;
  observedGeneration: number;
  lastAttemptedRevision?: string;
  lastAppliedRevision?: string;
  /** Ready, Reconciling, Stalled. */
  conditions: Condition[];
  /** The phase in progress, while reconciling. */
  phase?: Phase;
  /** Size of the inventory (the entries are in `inventory.<source>`, see Inventory). */
  inventoryCount: number;
  history: HistoryEntry[];
  /** Problems of the last attempted revision when it was refused. */
  problems?: ValidationMessage[];
  /**
   * Failed rollouts not yet superseded: each stays until its object changes again (the revert, or
   * any fix) or is pruned. `failedRollout` is the newest of them, for convenience.
   */
  failedRollouts: RolloutResult[];
  failedRollout?: RolloutResult;
  /** Leader term of the reconciler that wrote this (fencing, diagnostics). */
  term?: number;
  updatedAt: string;
}

/** emptySyncStatus is the status of a source never reconciled. */
export function emptySyncStatus(source: string): SyncStatus {
  return { kind: 'SyncStatus', source, observedGeneration: 0, conditions: [], inventoryCount: 0, history: [], failedRollouts: [], updatedAt: new Date(0).toISOString() };
}

/** setCondition returns conditions with `c` replacing the one of its type (transition time kept if unchanged). */
export function setCondition(conditions: readonly Condition[], c: Omit<Condition, 'lastTransitionTime'>, now: string): Condition[] {
  const old = conditions.find((x) => x.type === c.type);
  const next: Condition = { ...c, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now };
  const order = ['Ready', 'Reconciling', 'Stalled'];
  return [...conditions.filter((x) => x.type !== c.type), next].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
}

/** pushHistory adds an entry, newest first, keeping HISTORY_LIMIT. */
export function pushHistory(history: readonly HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  return [entry, ...history].slice(0, HISTORY_LIMIT);
}

/**
 * addFailedRollout records a failed rollout on the source status (once per object and template).
 */
export function addFailedRollout(s: SyncStatus, r: RolloutResult): SyncStatus {
  const same = (x: RolloutResult) => x.object.kind === r.object.kind && x.object.namespace === r.object.namespace && x.object.name === r.object.name;
  const failedRollouts = [...s.failedRollouts.filter((x) => !same(x)), r];
  return { ...s, failedRollouts, failedRollout: r };
}

/**
 * resolveFailedRollouts drops failed rollouts whose object changed since (generation moved past the
 * failed one) or is gone: the revert or a fix has superseded them. Pure.
 */
export function resolveFailedRollouts(s: SyncStatus, generationOf: (kind: string, namespace: string, name: string) => number | undefined): SyncStatus {
  const failedRollouts = s.failedRollouts.filter((r) => {
    const g = generationOf(r.object.kind, r.object.namespace, r.object.name);
    return g !== undefined && g <= r.generation;
  });
  const { failedRollout: _drop, ...rest } = s;
  const newest = failedRollouts.at(-1);
  return { ...rest, failedRollouts, ...(newest ? { failedRollout: newest } : {}) };
}
