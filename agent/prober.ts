/**
 * Probes of running tasks, the I/O around probe.ts's state machines: on every tick the probes due
 * run (at most one of each kind per container at a time; and a container's liveness and readiness at
 * once when its startup probe passes), each outcome is recorded, a readiness
 * change is journaled and reported, and a liveness or startup failure kills the container under the
 * task's lock so the restart policy decides what comes next.
 */
import type { ResolvedProbe } from '../api/index.ts';
import { dueProbes, isReady, recordProbe, type ProbeKind } from './probe.ts';
import { runProbe, type ProbeOutcome } from './probe-exec.ts';
import type { LocalTask } from './journal.ts';
import { changed } from './transitions.ts';
import type { AgentContext, Live } from './context.ts';
import { recordEvent, save } from './report.ts';
import { runStop } from './lifecycle.ts';

/** probeTick starts the probes that are due now. */
export function probeTick(ctx: AgentContext): void {
  const now = Date.now();
  const { live, probed } = ctx.state;
  for (const taskId of probed) {
    const l = live.get(taskId);
    if (!l?.health) {
      probed.delete(taskId); // its container went (or its successor has no probe)
      continue;
    }
    probeDue(ctx, taskId, l, now);
  }
}

/** probeDue starts the probes of one task's container that are due at `now` and not running yet. */
function probeDue(ctx: AgentContext, taskId: string, l: Live, now: number): void {
  const t = ctx.state.records.get(taskId);
  if (!l.health || l.killing || t?.phase !== 'running') return;
  for (const kind of dueProbes(l.health, now)) {
    if (l.probing.has(kind)) continue;
    l.probing.add(kind);
    const probe = l.health[kind]!.probe;
    ctx.locks.track(probeOnce(ctx, t, l, kind, probe).then((res) => onProbeResult(ctx, taskId, l, kind, res)));
  }
}

/** probeOnce runs one probe: answered by the runtime when it can, else from the node (probe-exec.ts). */
function probeOnce(ctx: AgentContext, t: LocalTask, l: Live, kind: ProbeKind, probe: ResolvedProbe): Promise<ProbeOutcome> {
  const rt = ctx.d.runtime;
  if (rt.probe) return rt.probe(l.containerId, kind, probe).catch((err: Error) => ({ ok: false, message: err.message }));
  return runProbe(probe, { ...(t.ip ? { ip: t.ip } : {}), exec: (argv, timeoutMs) => rt.exec(l.containerId, argv, timeoutMs) });
}

async function onProbeResult(ctx: AgentContext, taskId: string, l: Live, kind: ProbeKind, res: ProbeOutcome): Promise<void> {
  l.probing.delete(kind);
  if (ctx.state.stopped || ctx.state.live.get(taskId) !== l || !l.health) return;
  ctx.metrics.probes.inc({ kind, result: res.ok ? 'success' : 'failure' });
  const wasReady = isReady(l.health);
  const wasStarted = l.health.started;
  const now = Date.now();
  const v = recordProbe(l.health, kind, res.ok, now);
  l.health = v.health;
  // Startup passed: liveness and readiness are due (their initial delays count from the container's
  // start), now rather than at the next tick; the ready status of a task with a startup probe came
  // up to a tick (250 ms) late, on the path of every rollout and of gitcell up.
  if (!wasStarted && l.health.started && !v.kill) probeDue(ctx, taskId, l, now);
  const cur = ctx.state.records.get(taskId);
  if (!cur) return;
  if (v.kill && !l.killing) {
    l.killing = true;
    ctx.log.info({ task: taskId, kind: v.kill.kind }, `agent: ${v.kill.message}, killing the container`);
    recordEvent(ctx, 'Warning', 'Unhealthy', taskId, `${v.kill.message}: ${res.message ?? ''}`);
    killUnhealthy(ctx, taskId, v.kill.kind, `${v.kill.message}: ${res.message ?? ''}`.trim());
  } else if (isReady(l.health) !== wasReady && cur.phase === 'running' && cur.containerId === l.containerId) {
    await save(ctx, changed(cur, { ready: isReady(l.health), message: res.ok ? undefined : `${kind} probe: ${res.message ?? 'failed'}` }));
  }
}

/** killUnhealthy stops a container whose liveness or startup probe failed, once the task's lock is free. */
function killUnhealthy(ctx: AgentContext, taskId: string, kind: 'liveness' | 'startup', message: string): void {
  ctx.locks.runWhenFree(taskId, async () => {
    const t = ctx.state.records.get(taskId);
    if (!t || t.phase !== 'running') return;
    await save(ctx, changed(t, { message }), false);
    await runStop(ctx, taskId, kind);
  });
}
