/**
 * Preemption: when no node fits a task, find the node where evicting strictly lower-priority tasks
 * (never production-or-above by production-or-above, see bands.ts) makes room at the least cost.
 * Only tasks bound before this pass are victims: a pass never evicts what it just placed. Cost:
 * fewest victims, then the lowest highest-victim priority, then the lowest priority sum.
 */
import { canPreempt } from './bands.ts';
import { firstRejection, type Chain } from './chain.ts';
import { spreadLimitFilter } from './filters/spread-limit.ts';
import type { ClusterState, PlacedTask } from './state.ts';
import { NOT_PINNED, PIN_UNKNOWN, type TaskClass } from './task-class.ts';

/** PreemptionChoice is a node and the tasks to evict from it. */
export interface PreemptionChoice {
  node: number;
  victims: PlacedTask[];
}

/** victimCost orders choices: fewer victims, then lower top priority, then lower priority sum. */
export function victimCost(victims: PlacedTask[]): [number, number, number] {
  let max = -1;
  let sum = 0;
  for (const v of victims) {
    if (v.priority > max) max = v.priority;
    sum += v.priority;
  }
  return [victims.length, max, sum];
}

function cheaper(a: [number, number, number], b: [number, number, number]): boolean {
  return a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];
}

/**
 * PreemptionSampling bounds the search like kube-scheduler's DefaultPreemption: stop once
 * `max(minCandidates, percent% of nodes)` nodes where preemption would work have been compared.
 */
export interface PreemptionSampling {
  /** nodes in the (seeded, shuffled) order to visit */
  order: Int32Array;
  /** where in `order` to start */
  start: number;
  minCandidates: number;
  percent: number;
}

/**
 * findPreemption returns the cheapest node and victims for `cls` among the sampled candidates, or
 * null when no node would fit even after evicting every task it may evict. A candidate with one
 * victim of the lowest priority bound anywhere cannot be beaten and ends the search at once.
 */
export function findPreemption(cls: TaskClass, state: ClusterState, chain: Chain, sampling?: PreemptionSampling): PreemptionChoice | null {
  if (cls.pinned === PIN_UNKNOWN) return null;
  const staticFilters = chain.filters.filter((f) => !f.dynamic);
  let best: PreemptionChoice | null = null;
  let bestCost: [number, number, number] | null = null;
  let lowest = 0;
  while (lowest <= 1000 && state.countByPriority[lowest] === 0) lowest++;
  const n = state.n;
  const pinned = cls.pinned !== NOT_PINNED;
  const visits = pinned ? 1 : n;
  const enough = sampling && !pinned ? Math.max(sampling.minCandidates, Math.ceil((n * sampling.percent) / 100)) : Infinity;
  let candidates = 0;
  for (let k = 0; k < visits; k++) {
    const i = pinned ? cls.pinned : sampling ? sampling.order[(sampling.start + k) % n]! : k;
    if (firstRejection(staticFilters, cls, state, i)) continue;
    // Victims are of lower priority than the task, so never of its own job: evicting cannot cure a spread limit.
    if (spreadLimitFilter.filter(cls, state, i)) continue;
    const victims = victimsOn(cls, state, i);
    if (!victims) continue;
    candidates++;
    const cost = victimCost(victims);
    if (!bestCost || cheaper(cost, bestCost)) {
      best = { node: i, victims };
      bestCost = cost;
    }
    if (bestCost[0] === 1 && bestCost[1] <= lowest) break;
    if (candidates >= enough) break;
  }
  return best;
}

/**
 * victimsOn picks the victims on one node: tasks holding a wanted host port must go; then the
 * lowest-priority tasks go until the task fits; then each victim, highest priority first, is
 * spared again if the task still fits without evicting it (kube-scheduler's reprieve).
 */
export function victimsOn(cls: TaskClass, state: ClusterState, i: number): PlacedTask[] | null {
  const mandatory: PlacedTask[] = [];
  const optional: PlacedTask[] = [];
  for (const t of state.tasksOn[i]!) {
    const conflict = cls.hostPorts.length > 0 && t.hostPorts.some((p) => cls.hostPorts.includes(p));
    const preemptible = t.bound && canPreempt(cls.priority, t.priority);
    if (conflict) {
      if (!preemptible) return null;
      mandatory.push(t);
    } else if (preemptible) optional.push(t);
  }
  let freeCpu = state.allocCpu[i]! - state.usedCpu[i]!;
  let freeMem = state.allocMem[i]! - state.usedMem[i]!;
  let freeTasks = state.allocTasks[i]! - state.usedTasks[i]!;
  for (const t of mandatory) {
    freeCpu += t.cpu;
    freeMem += t.mem;
    freeTasks += 1;
  }
  const fits = () => freeCpu >= cls.cpu && freeMem >= cls.mem && freeTasks >= 1;
  let maxCpu = freeCpu;
  let maxMem = freeMem;
  for (const t of optional) {
    maxCpu += t.cpu;
    maxMem += t.mem;
  }
  if (maxCpu < cls.cpu || maxMem < cls.mem || freeTasks + optional.length < 1) return null;
  optional.sort((a, b) => a.priority - b.priority || b.cpu - a.cpu || b.mem - a.mem || (a.id < b.id ? -1 : 1));
  const chosen: PlacedTask[] = [];
  for (const t of optional) {
    if (fits()) break;
    chosen.push(t);
    freeCpu += t.cpu;
    freeMem += t.mem;
    freeTasks += 1;
  }
  if (!fits()) return null;
  for (let k = chosen.length - 1; k >= 0; k--) {
    const t = chosen[k]!;
    if (freeCpu - t.cpu >= cls.cpu && freeMem - t.mem >= cls.mem && freeTasks - 1 >= 1) {
      freeCpu -= t.cpu;
      freeMem -= t.mem;
      freeTasks -= 1;
      chosen.splice(k, 1);
    }
  }
  const victims = mandatory.concat(chosen);
  return victims.length ? victims : null;
}
