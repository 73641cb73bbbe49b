/** Scheduler options: one function holds every default; presets name the spread/pack choices. */
import type { SchedulerOptions } from './types.ts';

/**
 * defaultSchedulerOptions returns the defaults merged with `overrides`: Borg's hybrid (leaning to
 * packing, minimising stranded resources), with a little job spreading and image locality.
 */
export function defaultSchedulerOptions(overrides: Partial<SchedulerOptions> = {}): SchedulerOptions {
  const base: SchedulerOptions = {
    seed: 0,
    packing: 0.75,
    fitWeight: 2,
    weights: { strandedResources: 2, balancedResources: 0, jobSpread: 1, imageLocality: 1 },
    sampleSize: 32,
    explore: 1,
    scanBudget: 256,
    preemption: true,
    // kube-scheduler compares max(100, 10%) candidates; at 10,000 nodes that made a preempting task
    // cost ~3 ms of CPU. Like the placement sample, 100 random candidates (or 1%) find a cheap one.
    preemptionMinCandidates: 100,
    preemptionCandidatePercent: 1,
  };
  return { ...base, ...overrides, weights: { ...base.weights, ...overrides.weights } };
}

/** SCHEDULING_MODES are named settings of the spread/pack blend and its companion weights. */
export const SCHEDULING_MODES = {
  /** Least-allocated: the emptiest nodes first; headroom for load spikes, more nodes used. */
  spread: { packing: 0, weights: { strandedResources: 0, balancedResources: 1, jobSpread: 1, imageLocality: 1 } },
  /** Most-allocated: fill nodes before opening new ones (best fit over the sampled candidates). */
  pack: { packing: 1, weights: { strandedResources: 0, balancedResources: 0, jobSpread: 0, imageLocality: 0 } },
  /** Borg's hybrid, the default: pack, but prefer placements that strand the fewest resources. */
  hybrid: {},
} as const satisfies Record<string, Partial<SchedulerOptions>>;

/** SchedulingMode names a preset of SCHEDULING_MODES. */
export type SchedulingMode = keyof typeof SCHEDULING_MODES;

/** modeOptions returns the full options of a named mode, with `overrides` on top. */
export function modeOptions(mode: SchedulingMode, overrides: Partial<SchedulerOptions> = {}): SchedulerOptions {
  const preset: Partial<SchedulerOptions> = SCHEDULING_MODES[mode];
  return defaultSchedulerOptions({ ...preset, ...overrides, weights: { ...defaultSchedulerOptions(preset).weights, ...overrides.weights } });
}
