// reconciler/diff: desired objects of a revision vs the `desired` bucket -> a staged plan.
export { fieldDiff, REDACTED, type FieldChange } from './fields.ts';
export { nextDesiredRecord, objectHash, type DesiredRecord, type DesiredOrigin } from './record.ts';
export { APPLY_STAGES, stageOf, stageIndex, type ApplyStage } from './stages.ts';
export {
  planDiff,
  planIsEmpty,
  applyPlanToRecords,
  PRUNE_ANNOTATION,
  PRUNE_DISABLED,
  type Plan,
  type PlanItem,
  type PlanUpdate,
  type PruneItem,
  type PlanOptions,
} from './plan.ts';
