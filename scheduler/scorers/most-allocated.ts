import { fraction, type Scorer } from './scorer.ts';

/**
 * mostAllocatedScore is the mean over CPU and memory of the used fraction after placing the task,
 * times 100. Example: 3000m of 4000m and 4 GiB of 16 GiB after: (0.75 + 0.25) / 2 * 100 = 50.
 */
export function mostAllocatedScore(cpuAfter: number, cpuAlloc: number, memAfter: number, memAlloc: number): number {
  return ((fraction(cpuAfter, cpuAlloc) + fraction(memAfter, memAlloc)) / 2) * 100;
}

/** mostAllocatedScorer prefers the fullest nodes that still fit (packing): kube-scheduler's MostAllocated. */
export const mostAllocatedScorer: Scorer = {
  name: 'most-allocated',
  score(cls, s, i) {
    return mostAllocatedScore(s.usedCpu[i]! + cls.cpu, s.allocCpu[i]!, s.usedMem[i]! + cls.mem, s.allocMem[i]!);
  },
};
