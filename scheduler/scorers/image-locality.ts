import type { Scorer } from './scorer.ts';

/** imageLocalityScore is 100 when the image is present, else 0 (image sizes are not known here). */
export function imageLocalityScore(present: boolean): number {
  return present ? 100 : 0;
}

/** imageLocalityScorer prefers nodes that already hold the task's image: the task starts without a pull. */
export const imageLocalityScorer: Scorer = {
  name: 'image-locality',
  score(cls, s, i) {
    return imageLocalityScore(s.images[i]?.has(cls.image) ?? false);
  },
};
