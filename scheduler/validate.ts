/** Boundary checks: a malformed task is reported as unplaced with a precise reason, never a crash. */
import type { SchedTask } from './types.ts';

/** invalidTaskReason returns why `task` cannot be scheduled as given, naming the field, or null. */
export function invalidTaskReason(task: SchedTask): string | null {
  if (typeof task !== 'object' || task === null) return 'task is not an object';
  if (typeof task.id !== 'string' || task.id === '') return 'field id: must be a non-empty string';
  if (typeof task.jobKey !== 'string' || task.jobKey === '') return 'field jobKey: must be a non-empty string';
  if (!Number.isInteger(task.priority) || task.priority < 0 || task.priority > 1000) return 'field priority: must be an integer 0..1000';
  const req = task.template?.resources?.requests;
  if (!req) return 'field template.resources.requests: missing';
  if (!Number.isFinite(req.cpuMillis) || req.cpuMillis < 0) return 'field template.resources.requests.cpuMillis: must be a number >= 0';
  if (!Number.isFinite(req.memoryBytes) || req.memoryBytes < 0) return 'field template.resources.requests.memoryBytes: must be a number >= 0';
  return null;
}
