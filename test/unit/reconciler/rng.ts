// A small seeded PRNG (mulberry32) for property tests: every run draws the same cases, and a
// failing seed is printed so the case can be replayed.

/** Rng draws deterministic pseudo-random numbers from a seed. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** next is a float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** int is an integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** pick is one element of a non-empty array. */
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** chance is true with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}
