/**
 * Priority bands as the scheduler applies them. The band boundaries live in api/manifests.ts
 * (PRIORITY_BANDS: best-effort 0..99, batch 100..299, production 300..699, monitoring 700..1000);
 * this file holds the one preemption rule built on them.
 */
import { PRIORITY_BANDS } from '../api/index.ts';

/**
 * PROTECTED_BAND_MIN is the lowest priority of the production band. Borg: production tasks (and
 * monitoring, the band above) never preempt each other, so at or above it only lower bands are prey.
 */
export const PROTECTED_BAND_MIN: number = PRIORITY_BANDS.production.min;

/**
 * canPreempt tells whether a task of priority `preemptor` may evict one of priority `victim`:
 * strictly lower priority only, and never production-or-above evicting production-or-above.
 */
export function canPreempt(preemptor: number, victim: number): boolean {
  if (victim >= preemptor) return false;
  if (victim >= PROTECTED_BAND_MIN && preemptor >= PROTECTED_BAND_MIN) return false;
  return true;
}
