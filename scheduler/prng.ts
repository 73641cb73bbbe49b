/**
 * Seeded randomness: every random choice of the scheduler comes from here, so a run can be
 * replayed from its seed (Nomad seeds its node shuffle from the evaluation id).
 */

/** Prng returns floats in [0, 1). */
export type Prng = () => number;

/** hashSeed folds a string or number seed into 32 bits (FNV-1a). */
export function hashSeed(seed: number | string): number {
  const text = String(seed);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** createPrng returns mulberry32 seeded from `seed`: small, fast and good enough for sampling. */
export function createPrng(seed: number | string): Prng {
  let a = hashSeed(seed);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** shuffleInPlace is Fisher-Yates with the given generator. */
export function shuffleInPlace<T>(items: T[] | Int32Array, rand: Prng): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
}
