import { defineFilter, type Filter, unschedulable } from './filter.ts';
import { FilterInsufficientCpu, FilterInsufficientCpuAndMemory, FilterInsufficientMemory, FilterTooManyTasks } from '../reasons.ts';

const CPU = unschedulable(FilterInsufficientCpu);
const MEM = unschedulable(FilterInsufficientMemory);
const BOTH = unschedulable(FilterInsufficientCpuAndMemory);
const TASKS = unschedulable(FilterTooManyTasks);

/** resourcesFilter requires the task's CPU and memory requests (and a task slot) free on the node. */
export const resourcesFilter: Filter = defineFilter('resources', true, (cls, state, node) => {
  const cpuShort = state.usedCpu[node]! + cls.cpu > state.allocCpu[node]!;
  const memShort = state.usedMem[node]! + cls.mem > state.allocMem[node]!;
  if (cpuShort) return memShort ? BOTH : CPU;
  if (memShort) return MEM;
  if (state.usedTasks[node]! + 1 > state.allocTasks[node]!) return TASKS;
  return null;
});
