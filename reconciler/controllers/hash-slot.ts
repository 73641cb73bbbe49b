// A stable position derived from a name, and a linear probe from it: how the allocators of the
// service network (VIPs, NodePorts) and of the node network (task subnets) pick an unrecorded
// address, so that after a store rebuild the same name lands on the same address again.
import { createHash } from 'node:crypto';

/** hashSlot is a stable position in [0, n) derived from a name. */
export function hashSlot(name: string, n: number): number {
  return createHash('sha256').update(name).digest().readUIntBE(0, 6) % n;
}

/** probeFree walks the n values first, first+1, ... wrapping to `base`, and returns the first free one. */
export function probeFree(first: number, n: number, base: number, free: (v: number) => boolean): number | undefined {
  for (let i = 0; i < n; i++) {
    const v = base + ((first - base + i) % n);
    if (free(v)) return v;
  }
  return undefined;
}
