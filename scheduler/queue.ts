/**
 * The pending queue order, as in Borg: highest priority first; within one priority, round-robin
 * across jobs so one huge job cannot starve the others; within a job, by task index. The order of
 * jobs within a priority is a seeded shuffle of their sorted keys: stable (independent of the order
 * the tasks arrive in) and replayable.
 */
import { createPrng, shuffleInPlace } from './prng.ts';
import type { SchedTask } from './types.ts';

/** orderQueue returns the tasks in scheduling order (a new array). */
export function orderQueue<T extends SchedTask>(tasks: readonly T[], seed: number | string): T[] {
  const byPriority = new Map<number, Map<string, T[]>>();
  for (const t of tasks) {
    let jobs = byPriority.get(t.priority);
    if (!jobs) byPriority.set(t.priority, (jobs = new Map()));
    let list = jobs.get(t.jobKey);
    if (!list) jobs.set(t.jobKey, (list = []));
    list.push(t);
  }
  const out: T[] = [];
  const priorities = [...byPriority.keys()].sort((a, b) => b - a);
  for (const p of priorities) {
    const jobs = byPriority.get(p)!;
    const keys = [...jobs.keys()].sort();
    shuffleInPlace(keys, createPrng(`${seed}/queue/${p}`));
    const lists = keys.map((k) => jobs.get(k)!.sort(byIndexThenId));
    const longest = lists.reduce((m, l) => Math.max(m, l.length), 0);
    for (let round = 0; round < longest; round++) {
      for (const list of lists) {
        const t = list[round];
        if (t) out.push(t);
      }
    }
  }
  return out;
}

function byIndexThenId(a: SchedTask, b: SchedTask): number {
  const ia = a.index ?? 0;
  const ib = b.index ?? 0;
  if (ia !== ib) return ia - ib;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
