/**
 * APPLY_STAGES orders kinds for apply: definitions first (a CRD before objects of its kind), then
 * Secrets (before the workloads that mount them), then everything else. Prune runs in reverse.
 */
export const APPLY_STAGES = ['definitions', 'secrets', 'workloads'] as const;

/** ApplyStage is one of APPLY_STAGES. */
export type ApplyStage = (typeof APPLY_STAGES)[number];

/** stageOf names the apply stage of a kind. */
export function stageOf(kind: string): ApplyStage {
  if (kind === 'CustomResourceDefinition') return 'definitions';
  if (kind === 'Secret') return 'secrets';
  return 'workloads';
}

/** stageIndex is the position of a kind's stage in APPLY_STAGES (lower applies earlier). */
export function stageIndex(kind: string): number {
  return APPLY_STAGES.indexOf(stageOf(kind));
}
