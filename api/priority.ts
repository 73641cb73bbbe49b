/**
 * Priorities of Jobs, DaemonSets and CronJobs: four named bands over the integers 0..1000 (like
 * Borg's monitoring > production > batch > best-effort); a manifest names a band or an integer.
 */
/** PRIORITY_BANDS maps each priority band to its inclusive integer range; bands do not overlap. */
export const PRIORITY_BANDS = {
  'best-effort': { min: 0, max: 99 },
  batch: { min: 100, max: 299 },
  production: { min: 300, max: 699 },
  monitoring: { min: 700, max: 1000 },
} as const;

/** PriorityBand is a named band, from lowest to highest: best-effort, batch, production, monitoring. */
export type PriorityBand = keyof typeof PRIORITY_BANDS;

/** PRIORITY_BAND_NAMES lists the bands from lowest to highest. */
export const PRIORITY_BAND_NAMES = ['best-effort', 'batch', 'production', 'monitoring'] as const satisfies readonly PriorityBand[];

/** PRIORITY_MAX is the highest priority integer. */
export const PRIORITY_MAX = 1000;

/** Priority is a band name or an integer 0..PRIORITY_MAX. */
export type Priority = PriorityBand | number;

/**
 * priorityValue turns a Priority into its integer: a band gives its lowest value (so integers rank
 * work inside a band), an integer is returned as is. Throws RangeError on an integer outside 0..1000
 * or an unknown band: validated manifests never contain those.
 */
export function priorityValue(p: Priority): number {
  if (typeof p === 'number') {
    if (!Number.isInteger(p) || p < 0 || p > PRIORITY_MAX) throw new RangeError(`priority ${p} is not an integer in 0..${PRIORITY_MAX}`);
    return p;
  }
  const band = PRIORITY_BANDS[p];
  if (band === undefined) throw new RangeError(`unknown priority band "${String(p)}"`);
  return band.min;
}

/** priorityBand names the band an integer priority falls in. Throws RangeError outside 0..1000. */
export function priorityBand(n: number): PriorityBand {
  for (const name of PRIORITY_BAND_NAMES) {
    const band = PRIORITY_BANDS[name];
    if (Number.isInteger(n) && n >= band.min && n <= band.max) return name;
  }
  throw new RangeError(`priority ${n} is not an integer in 0..${PRIORITY_MAX}`);
}

/** DEFAULT_PRIORITY applies when a Job, DaemonSet or CronJob names none. */
export const DEFAULT_PRIORITY: PriorityBand = 'batch';
