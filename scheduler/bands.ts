/**
 * Priority bands as the scheduler applies them. The band boundaries come from api/manifests.ts
 * (PRIORITY_BANDS); this file holds the one preemption rule built on them.
 */

/**
 * PROTECTED_BAND_MIN is the lowest priority of the production band. Borg: production tasks (and
 * monitoring, the band above) never preempt each other, so at or above it only lower bands are prey.
 */
export const PROTECTED_BAND_MIN = 300;

/**
 * canPreempt tells whether a task of priority `preemptor` may evict one of priority `victim`:
 * strictly lower priority only, and never production-or-above evicting production-or-above.
 */
export function canPreempt(preemptor: number, victim: number): boolean {
  if (victim >= preemptor) return false;
  if (victim >= PROTECTED_BAND_MIN && preemptor >= PROTECTED_BAND_MIN) return false;
  return true;
}
