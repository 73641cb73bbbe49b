/**
 * How the CLI shows autoscaling: `get jobs` columns (Git's replicas, the tasks that exist, the
 * autoscaler's live count within its bounds) and the `describe job` section with the last decisions
 * and their inputs. Pure: the callers read the store.
 */
import { liveReplicas, type AutoscaleDecision, type AutoscaleRecord, type JobSpec } from '../api/index.ts';
import { age, table } from './client.ts';
import { short } from './listings.ts';

/** AUTOSCALE_HEAD are the `get jobs` columns this module fills. */
export const AUTOSCALE_HEAD = ['GIT', 'CURRENT', 'AUTOSCALED'] as const;

/**
 * autoscaleCells renders GIT (the replicas Git asks for; '-' for batch), CURRENT (tasks that exist
 * now) and AUTOSCALED (the autoscaler's live count and bounds, or '-' when the Job has no block).
 */
export function autoscaleCells(spec: Partial<JobSpec>, record: AutoscaleRecord | undefined, current: number | undefined): string[] {
  if (spec.type === 'batch') return ['-', current === undefined ? '-' : String(current), '-'];
  const git = String(spec.replicas ?? 1);
  const a = spec.autoscale;
  const auto = a ? `${liveReplicas(spec, record)} (${a.minReplicas ?? 1}-${a.maxReplicas})` : '-';
  return [git, current === undefined ? '-' : String(current), auto];
}

/** decisionInputs says in one line what a decision read: each metric's value against its target and proposal. */
export function decisionInputs(d: AutoscaleDecision): string {
  return d.metrics
    .map((m) => (m.error ? `${m.metric}: ${m.error}` : `${m.metric} ${m.current}/${m.target} (${m.ready} ready, ${m.missing} missing, ${m.unready} unready) -> ${m.proposal}`))
    .join('; ');
}

/** autoscaleText is the `describe job` section: bounds, live count against Git, and the last decisions. */
export function autoscaleText(spec: Partial<JobSpec>, record: AutoscaleRecord | undefined): string {
  const a = spec.autoscale;
  if (!a) return '';
  const head = `Autoscale: ${a.minReplicas ?? 1}..${a.maxReplicas} tasks, live count ${liveReplicas(spec, record)} (Git replicas ${spec.replicas ?? 1}, not used while autoscaled)\n`;
  const decisions = record?.decisions ?? [];
  if (!decisions.length) return `${head}  Decisions: <none yet>\n`;
  const rows = [...decisions].reverse().map((d) => [age(d.at), `${d.current} -> ${d.desired}`, d.reason, `${d.proposal}/${d.stabilized}`, short(decisionInputs(d), 110)]);
  return `${head}  Decisions (newest first):\n${table(['AGE', 'SCALE', 'REASON', 'PROPOSED/STABILIZED', 'INPUTS'], rows).replace(/^(?=.)/gm, '    ')}`;
}
