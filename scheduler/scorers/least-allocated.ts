import { fraction, type Scorer } from './scorer.ts';

/**
 * leastAllocatedScore is the mean over CPU and memory of the free fraction after placing the task,
 * times 100. Example: 4000m node with 3000m used after, 16 GiB with 4 GiB used after:
 * ((1000/4000) + (12/16)) / 2 * 100 = (0.25 + 0.75) / 2 * 100 = 50.
 */
export function leastAllocatedScore(cpuAfter: number, cpuAlloc: number, memAfter: number, memAlloc: number): number {
  return ((1 - fraction(cpuAfter, cpuAlloc) + (1 - fraction(memAfter, memAlloc))) / 2) * 100;
}

/** leastAllocatedScorer prefers the emptiest nodes (spreading): kube-scheduler's LeastAllocated. */
export const leastAllocatedScorer: Scorer = {
  name: 'least-allocated',
  score(cls, s, i) {
    return leastAllocatedScore(s.usedCpu[i]! + cls.cpu, s.allocCpu[i]!, s.usedMem[i]! + cls.mem, s.allocMem[i]!);
  },
};
