import { type Scorer } from './scorer.ts';

/**
 * strandedFraction is the part of a node stranded after placement: with free CPU `fc` and free
 * memory `fm`, tasks shaped `shape` bytes per millicore can use `u = min(fc, fm / shape)` CPU and
 * `u * shape` memory; the rest of each resource is stranded. Returned as the stranded share of the
 * node, `(fc - u) / cpuAlloc + (fm - u * shape) / memAlloc` (only one term is non-zero), in 0..1.
 * Example: 4000m / 16 GiB node, 1000m and 12 GiB free, shape 4 MiB/m: u = min(1000, 3072) = 1000,
 * stranded memory 12 GiB - 1000 * 4 MiB = 8.09 GiB, fraction 8.09 / 16 = 0.506.
 */
export function strandedFraction(fc: number, cpuAlloc: number, fm: number, memAlloc: number, shape: number): number {
  if (cpuAlloc <= 0 || memAlloc <= 0 || !(shape > 0)) return 0;
  const freeC = fc < 0 ? 0 : fc;
  const freeM = fm < 0 ? 0 : fm;
  const u = Math.min(freeC, freeM / shape);
  const f = (freeC - u) / cpuAlloc + (freeM - u * shape) / memAlloc;
  return f < 0 ? 0 : f > 1 ? 1 : f;
}

/** strandedResourcesScore is `100 * (1 - strandedFraction)`: 49.4 for the example above. */
export function strandedResourcesScore(fc: number, cpuAlloc: number, fm: number, memAlloc: number, shape: number): number {
  return 100 * (1 - strandedFraction(fc, cpuAlloc, fm, memAlloc, shape));
}

/**
 * strandedResourcesScorer is Borg's hybrid: prefer the node where, after placing the task, the least
 * free capacity is stranded, i.e. unusable because the other resource runs out first for tasks of
 * the pending work's typical shape (memory bytes per CPU millicore, `state.demandShape`).
 */
export const strandedResourcesScorer: Scorer = {
  name: 'stranded-resources',
  score(cls, s, i) {
    const cpuA = s.allocCpu[i]!;
    const memA = s.allocMem[i]!;
    return strandedResourcesScore(cpuA - s.usedCpu[i]! - cls.cpu, cpuA, memA - s.usedMem[i]! - cls.mem, memA, s.demandShape);
  },
};
