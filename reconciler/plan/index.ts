// reconciler/plan: what merging a revision would do (diff, rollout steps, scheduling preview), pure, and its renderings.
export { computeRevisionPlan, planProblem, type RevisionPlan, type PlanInput, type RolloutStep, type SchedulingPreview } from './plan.ts';
export { rollingWaves, type RolloutWave } from './rollout-steps.ts';
export { renderPlan, planHasChanges, PLAN_FORMATS, type PlanFormat } from './render.ts';
export { sloSteps, sloSummary, sloRuleLines, type SloStep } from './slo-steps.ts';
