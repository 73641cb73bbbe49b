import type { Scorer } from './scorer.ts';

/** jobSpreadScore is `100 / (1 + k)` for `k` tasks of the job already on the node: 100, 50, 33.3, ... */
export function jobSpreadScore(k: number): number {
  return 100 / (1 + k);
}

/** jobSpreadScorer prefers nodes with fewer tasks of the same job, so one node's loss hurts a job less. */
export const jobSpreadScorer: Scorer = {
  name: 'job-spread',
  score(cls, s, i) {
    return jobSpreadScore(s.jobs.get(cls.jobKey)?.perNode.get(i) ?? 0);
  },
};
