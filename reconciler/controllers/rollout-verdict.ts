// Whether a workload's rollout of a generation has ended, and how: one judgement for the CLI's
// `rollout status` and the reconciler's commit statuses, from the status the controllers write.
import type { WorkloadStatus } from './types.ts';

/** WorkloadVerdict: the rollout of `generation` completed, failed, or is still under way (with a line saying where). */
export type WorkloadVerdict = { state: 'complete' | 'failed' | 'waiting'; message: string };

/** workloadVerdict judges a Job's or DaemonSet's rollout of `generation` from its status. Pure. */
export function workloadVerdict(st: WorkloadStatus | undefined, generation: number, type: 'service' | 'batch' | 'daemon'): WorkloadVerdict {
  if (!st || st.observedGeneration < generation) return { state: 'waiting', message: `waiting for the controllers to act on generation ${generation}` };
  if (type === 'batch') {
    const b = st.batch;
    if (b?.phase === 'Complete') return { state: 'complete', message: `job complete: ${b.succeeded}/${st.desired} succeeded` };
    if (b?.phase === 'Failed') return { state: 'failed', message: `job failed: ${b.reason ?? `${b.failed} tasks failed`}` };
    return { state: 'waiting', message: `waiting for the job: ${b?.succeeded ?? 0}/${st.desired} succeeded, ${b?.active ?? 0} running, ${b?.failed ?? 0} failed` };
  }
  const ro = st.rollout;
  if (ro?.phase === 'Failed' && ro.generation >= generation) {
    return { state: 'failed', message: `rollout failed: ${ro.failed ? `${ro.failed.reason}: ${ro.failed.message}` : 'no progress'}` };
  }
  if ((!ro || ro.phase === 'Complete') && st.updated >= st.desired && st.ready >= st.desired && st.current <= st.desired) {
    return { state: 'complete', message: `successfully rolled out: ${st.ready}/${st.desired} tasks ready` };
  }
  return { state: 'waiting', message: `waiting for the rollout to finish: ${Math.min(st.updated, st.desired)} of ${st.desired} updated tasks, ${st.ready} ready${st.current > st.desired ? `, ${st.current - st.desired} old to go` : ''}` };
}
