import { fraction, type Scorer } from './scorer.ts';

/**
 * balancedResourcesScore is `(1 - std) * 100` of the used fractions after placement; with two
 * resources the standard deviation is `|cpu - mem| / 2`. Example: 50% CPU and 30% memory used
 * after: std = 0.1, score 90.
 */
export function balancedResourcesScore(cpuAfter: number, cpuAlloc: number, memAfter: number, memAlloc: number): number {
  const std = Math.abs(fraction(cpuAfter, cpuAlloc) - fraction(memAfter, memAlloc)) / 2;
  return (1 - std) * 100;
}

/** balancedResourcesScorer prefers nodes whose CPU and memory fill evenly: kube-scheduler's BalancedAllocation. */
export const balancedResourcesScorer: Scorer = {
  name: 'balanced-resources',
  score(cls, s, i) {
    return balancedResourcesScore(s.usedCpu[i]! + cls.cpu, s.allocCpu[i]!, s.usedMem[i]! + cls.mem, s.allocMem[i]!);
  },
};
