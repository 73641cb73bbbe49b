// What `gitcell plan` says about the task count of a service Job when autoscaling is involved: Git
// holds `replicas` and the bounds, the autoscaler holds the live count (api liveReplicas), so a
// commit changing `replicas` of an autoscaled Job changes nothing now, a commit changing the bounds
// moves the live count only when it falls outside them, and a commit removing `autoscale:` returns
// the Job to its Git replicas. Pure.
import { liveReplicas, type AnyObject, type AutoscaleRecord, type JobSpec } from '../../api/index.ts';

/** ScaleStep is a plan's count step of one Job (RolloutStep without its key). */
export interface ScaleStep {
  action: 'scale' | 'autoscaled';
  summary: string;
}

const s = (n: number): string => (n === 1 ? '' : 's');

function jobSpec(o: AnyObject): Partial<JobSpec> | undefined {
  const spec = (o as { spec?: Partial<JobSpec> }).spec;
  return o.kind === 'Job' && spec?.type !== 'batch' ? spec : undefined;
}

/**
 * scaleStep compares the task counts of one service Job before and after a revision, given the
 * autoscaler's record (`record`, from the live cluster; absent with `--base`), and says what will
 * actually happen; undefined when nothing about the count changes.
 */
export function scaleStep(prev: AnyObject, next: AnyObject, record: AutoscaleRecord | undefined): ScaleStep | undefined {
  const a = jobSpec(prev);
  const b = jobSpec(next);
  if (!a || !b) return undefined;
  const before = liveReplicas(a, record);
  const after = liveReplicas(b, a.autoscale ? record : undefined);
  const gitBefore = a.replicas ?? 1;
  const gitAfter = b.replicas ?? 1;
  if (a.autoscale && !b.autoscale) {
    return { action: 'scale', summary: `autoscale removed: back to the Git replicas, from ${before} to ${after} task${s(after)}` };
  }
  if (!a.autoscale && b.autoscale) {
    return { action: 'autoscaled', summary: `autoscale added (${b.autoscale.minReplicas ?? 1}..${b.autoscale.maxReplicas}): the autoscaler owns the count from here, starting at ${after} task${s(after)}${after !== before ? ` (from ${before})` : ''}` };
  }
  if (b.autoscale) {
    const bounds = `${b.autoscale.minReplicas ?? 1}..${b.autoscale.maxReplicas}`;
    const gitNote = gitBefore !== gitAfter ? `replicas ${gitBefore} -> ${gitAfter} in Git changes nothing while autoscaled (used again only if autoscale is removed); ` : '';
    if (after !== before) return { action: 'scale', summary: `${gitNote}bounds now ${bounds}: the live count goes from ${before} to ${after}` };
    if (gitNote) return { action: 'autoscaled', summary: `${gitNote}the autoscaler keeps ${after} task${s(after)} (bounds ${bounds})` };
    return undefined;
  }
  return before !== after ? { action: 'scale', summary: `scale from ${before} to ${after} tasks` } : undefined;
}
