/**
 * Usage sampling: every `usageMs` the agent reads each followed container's cgroup, turns two
 * samples into CPU millicores (cgroup.ts) and memory working set, which /metrics exports
 * (task-metrics.ts), and reports them in the running task's status when they moved (`usageMoved`).
 */
import { cpuMillisBetween, readCgroup, usageMoved } from './cgroup.ts';
import type { AgentContext } from './context.ts';
import { writeStatus } from './report.ts';

/** sampleUsage takes one usage sample of every followed container. */
export async function sampleUsage(ctx: AgentContext): Promise<void> {
  const now = Date.now();
  for (const [taskId, l] of ctx.state.live) {
    const path = ctx.d.runtime.cgroupPath(l.containerId);
    // No cgroup (a container already removed, or the in-memory runtime): "" would read the hierarchy's root.
    if (!path) continue;
    const s = await readCgroup(path);
    if (!s) continue;
    if (l.sample) {
      l.usage = { cpuMillis: cpuMillisBetween(l.sample.s, s, now - l.sample.at), memoryBytes: s.memoryBytes };
      const t = ctx.state.records.get(taskId);
      if (t?.phase === 'running' && usageMoved(l.reported, l.usage)) {
        l.reported = l.usage;
        await writeStatus(ctx, t);
      }
    }
    l.sample = { at: now, s };
  }
}
