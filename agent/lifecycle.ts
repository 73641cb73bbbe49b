/**
 * The task lifecycle's I/O: start, follow, adopt, exit, stop and forget a task. Each step journals
 * before it acts (transitions.ts decides the entries), so an agent killed at any point finishes the
 * step after its restart (resume.ts). Callers hold the task's lock (task-locks.ts).
 *
 *   start:  journal(starting) [+ status, for a first start only once it takes 1 s] ─► image ─► Secrets ─► runtime.run (runc create ─► CNI ADD on its netns ─► process starts) ─► journal(running) ─► status
 *   exit:   exitTransition ─► journal(backoff, restartAt) | journal(finished) + network teardown
 *   stop:   journal(stopping, deadline) ─► SIGTERM ─► grace ─► SIGKILL ─► journal(stopped)
 *   forget: containers ─► network ─► Secret volume ─► status ─► journal entry
 */
import { errorMessage, isGitcellError, ErrorCodes, SecretsError } from '../lib/index.ts';
import { statusKey, type TaskSpec } from '../api/index.ts';
import { newHealth } from './probe.ts';
import { stateOf } from './status.ts';
import { numericOwner } from './secret-volumes.ts';
import { pullAuths } from './pull-auth.ts';
import { awaitSecrets } from './secret-arrivals.ts';
import type { LocalTask } from './journal.ts';
import type { ContainerView, ExitInfo } from './port.ts';
import type { AgentContext, Live } from './context.ts';
import { recordEvent, save, writeStatus } from './report.ts';
import {
  adoptedRecord, changed, exitTransition, runRequest, runningRecord, startFailedRecord, startingRecord, stoppedRecord, stoppingRecord, stopMessage, usesSecrets,
  type StopCause, type TaskSecrets,
} from './transitions.ts';

/** runStart starts a new attempt of `spec` (after `previous`, if any); a failure becomes a backoff. */
export async function runStart(ctx: AgentContext, spec: TaskSpec, previous: LocalTask | undefined): Promise<void> {
  const rt = ctx.d.runtime;
  const t = startingRecord(spec, previous);
  const containerId = t.containerId!;
  if (previous?.containerId) {
    keepLogs(ctx, previous, previous.containerId);
    await rt.remove(previous.containerId);
  }
  // A first start's status waits for a change worth telling (see PULL_STATUS): running, or a wait
  // for an image pull or a Secret, which says so. Restarts and replacements report 'starting' at
  // once: their status shows the previous attempt (stopped, backoff), which must not stand for the new one.
  await save(ctx, t, previous !== undefined);
  try {
    await awaitSecrets(ctx, t);
    const auths = await pullAuths(spec, ctx.volumes);
    const onPull = (): void => reportPull(ctx, t, spec.template.image);
    const image = await rt.ensureImage(spec.template.image, { ...(spec.template.imagePullPolicy ? { policy: spec.template.imagePullPolicy } : {}), ...(auths ? { auths } : {}), onPull })
      .catch((err: unknown) => { throw namingImage(err, spec.template.image); });
    if (image?.pulled) recordEvent(ctx, 'Normal', 'Pulled', spec.id, `pulled image ${spec.template.image}${image.from ? ` from ${image.from}` : ''}`);
    // Bounded (startConcurrency): the steps below each run processes (ip, CNI plugins, runc); a pull
    // above waits on the network, not the CPU, and holds no slot.
    const { pid } = await ctx.starts.run(async () => {
      const secrets = await prepareSecrets(ctx, spec);
      const dns = ctx.d.services?.dnsFor(spec.namespace);
      // runc makes the container's network namespace (loopback up); CNI attaches it before the
      // process starts: no namespace, bind mount or `ip` process of the agent's own per start.
      const onCreated = async (created: number): Promise<void> => {
        t.ip = (await ctx.d.network.setup(spec.id, { netnsPath: `/proc/${created}/ns/net` })).ip;
      };
      return rt.run(runRequest(spec, containerId, secrets, { dns, onCreated }));
    });
    ctx.metrics.starts.inc({ result: 'ok' });
    // A first start's event would repeat its status (running, startedAt, containerId, pid, ip): an
    // event per task start filled the 10,000-message events stream ten times over in a 100,000-task
    // commit, evicting every warning. Starts after an exit or of a new template are history the
    // status overwrites: those are told.
    if (previous) recordEvent(ctx, 'Normal', 'Started', spec.id, `started container ${containerId} (pid ${pid}, ip ${t.ip})`);
    await markRunning(ctx, t, pid, t.ip);
  } catch (err) {
    ctx.metrics.starts.inc({ result: 'error' });
    await rt.remove(containerId).catch(() => {});
    ctx.log.warn({ task: spec.id, err: errorMessage(err) }, 'agent: start failed');
    recordEvent(ctx, 'Warning', 'FailedStart', spec.id, errorMessage(err));
    await save(ctx, startFailedRecord(t, ctx.backoff, errorMessage(err), Date.now()));
  }
}

/**
 * reportPull says in the task's status that its start waits for an image pull (PULL_STATUS), if
 * that start is still the task's attempt.
 *
 * PULL_STATUS: a status write per state change, and a start has one change to report, running,
 * unless it waits for something a user should know of: an image pull (here) or a Secret not yet on
 * the node (secret-arrivals.ts); until then `gitcell status` shows the task bound. A 'pending'
 * written on a timer (after 1 s, then 10 s) was written for every start that waited its turn on a
 * busy node: 1.3..1.5 status writes per task in `npm run bench -- scale --quick`, 1.43 at 10,000
 * nodes even at 10 s, each a store and a delivery to every status reader.
 */
function reportPull(ctx: AgentContext, t: LocalTask, image: string): void {
  const now = ctx.state.records.get(t.taskId);
  if (!now || now.containerId !== t.containerId || now.phase !== 'starting' || ctx.state.stopped) return;
  ctx.locks.track(save(ctx, changed(now, { message: `pulling image ${image}` })));
}

/** keepLogs archives the log of attempt `t` before its container goes (logs --previous, finished tasks). */
function keepLogs(ctx: AgentContext, t: LocalTask, containerId: string): void {
  const dir = ctx.d.runtime.logDir(containerId);
  if (dir) ctx.logArchive.archive(dir, { taskId: t.taskId, attempt: t.attempt, jobKey: t.spec.jobKey, ...(t.exitCode !== undefined ? { exitCode: t.exitCode } : {}) });
}

/** namingImage makes a pull error's message name the image (a registry's message names only its host). */
function namingImage(err: unknown, image: string): unknown {
  if (isGitcellError(err) && !err.message.includes(image)) err.message = `image ${image}: ${err.message}`;
  return err;
}

/** prepareSecrets opens a task's Secrets onto a fresh tmpfs; E_SECRETS_UNAVAILABLE before the key ring is ready. */
async function prepareSecrets(ctx: AgentContext, spec: TaskSpec): Promise<TaskSecrets> {
  if (!usesSecrets(spec)) return { mounts: [], env: [] };
  if (!ctx.volumes) throw new SecretsError(ErrorCodes.SecretsUnavailable, `task ${spec.id} uses Secrets but this node's key pair is not ready yet`, { taskId: spec.id });
  // A fresh copy per start: a restart or a new template never sees stale files.
  await ctx.volumes.release(spec.id);
  const p = await ctx.volumes.prepare(spec, numericOwner(spec.template.user));
  return { mounts: p.mounts.map((m) => ({ source: m.source, destination: m.destination })), env: p.env };
}

/** markRunning records a started container and begins following it. */
export async function markRunning(ctx: AgentContext, t: LocalTask, pid: number, ip: string | undefined): Promise<void> {
  const next = runningRecord(t, pid, ip, new Date().toISOString());
  attach(ctx, next, next.containerId!, true);
  await save(ctx, next);
}

/** attach follows a container's exit and (for a running task) its probes. */
export function attach(ctx: AgentContext, t: LocalTask, containerId: string, probe: boolean): void {
  const { state } = ctx;
  const exited = ctx.d.runtime.wait(containerId);
  const started = t.startedAt ? Date.parse(t.startedAt) : Date.now();
  let health = probe ? newHealth(t.spec.template.probes, started) : undefined;
  if (health && t.ready) {
    // Adopted after an agent restart: keep the verdict the previous incarnation reached.
    health = { ...health, started: true, ...(health.readiness ? { readiness: { ...health.readiness, result: 'success' as const } } : {}) };
  }
  const l: Live = { containerId, exited, probing: new Set(), ...(health ? { health } : {}) };
  state.live.set(t.taskId, l);
  if (health && (health.startup || health.liveness || health.readiness)) {
    state.probed.add(t.taskId);
    ctx.probing();
  }
  exited.then(
    (info) => {
      if (state.live.get(t.taskId) !== l) return;
      const cur = state.records.get(t.taskId);
      // An exit can arrive while another operation holds the task (a probe kill): it waits its turn.
      if (cur?.phase === 'running' && cur.containerId === containerId) ctx.locks.runWhenFree(t.taskId, () => onExit(ctx, t.taskId, containerId, info));
    },
    (err) => ctx.log.error({ task: t.taskId, err: errorMessage(err) }, 'agent: waiting for a container failed'),
  );
}

/** adopt takes on a running container of `spec` that has no journal entry. */
export async function adopt(ctx: AgentContext, spec: TaskSpec, c: ContainerView): Promise<void> {
  const net = await ctx.d.network.get(spec.id);
  const t = adoptedRecord(spec, c, net?.ip);
  attach(ctx, t, c.id, true);
  await save(ctx, t);
}

/** onExit applies the restart policy to a container that exited on its own (or by a probe kill). */
export async function onExit(ctx: AgentContext, taskId: string, containerId: string, info: ExitInfo): Promise<void> {
  const t = ctx.state.records.get(taskId);
  if (!t || t.containerId !== containerId || (t.phase !== 'running' && t.phase !== 'stopping')) return;
  ctx.state.live.delete(taskId);
  const x = exitTransition(t, info, ctx.backoff, Date.now());
  if (x.restartInMs !== undefined) {
    ctx.metrics.restarts.inc();
    recordEvent(ctx, x.event.type, x.event.reason, taskId, x.event.message);
    await save(ctx, x.next);
    setTimeout(() => ctx.kick(taskId), x.restartInMs + 5).unref();
  } else {
    await save(ctx, x.next);
    recordEvent(ctx, x.event.type, x.event.reason, taskId, x.event.message);
    // A finished task keeps its container (and log) until it is unbound; the address goes back now.
    await ctx.d.network.teardown(taskId);
  }
}

/**
 * runStop stops a task's container gracefully: SIGTERM, the task's grace period, then SIGKILL.
 * The deadline is journaled, so a restarted agent keeps the original deadline.
 */
export async function runStop(ctx: AgentContext, taskId: string, reason: StopCause, containerId?: string): Promise<void> {
  let t = ctx.state.records.get(taskId);
  const cid = containerId ?? t?.containerId;
  if (!cid) return;
  if (!t || t.containerId !== cid) {
    // A container without a record (duplicate or stray): stop it without touching the task.
    await stopContainer(ctx, cid, 30_000, reason);
    return;
  }
  if (t.phase !== 'stopping') {
    t = stoppingRecord(t, reason, Date.now());
    await save(ctx, t);
  }
  // Out of every Service first (its stopping status told the endpoints controller): no new
  // connection reaches it once it got SIGTERM. Bounded by the services module's drain timeout.
  await ctx.d.services?.beforeStop(taskId);
  const info = await stopContainer(ctx, cid, Math.max(0, (t.stopDeadline ?? Date.now()) - Date.now()), reason);
  if (reason === 'liveness' || reason === 'startup') {
    await onExit(ctx, taskId, cid, info);
    return;
  }
  ctx.state.live.delete(taskId);
  recordEvent(ctx, 'Normal', 'Stopped', taskId, `${stopMessage(reason)} (exit ${info.exitCode})`);
  await save(ctx, stoppedRecord(t, info, new Date().toISOString()));
}

/** stopContainer sends SIGTERM, waits up to `graceMs`, then SIGKILL; resolves with the exit. */
async function stopContainer(ctx: AgentContext, id: string, graceMs: number, reason: string): Promise<ExitInfo> {
  const rt = ctx.d.runtime;
  const followed = [...ctx.state.live.values()].find((l) => l.containerId === id);
  const exited = followed?.exited ?? rt.wait(id);
  await rt.kill(id, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), graceMs); });
  const first = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (first !== 'timeout') {
    ctx.metrics.stops.inc({ reason, forced: 'false' });
    return first;
  }
  await rt.kill(id, 'SIGKILL');
  ctx.metrics.stops.inc({ reason, forced: 'true' });
  return exited;
}

/** forget removes every trace of a task: containers, network, journal entry, status record. */
export async function forget(ctx: AgentContext, taskId: string, containerIds: string[]): Promise<void> {
  const { state } = ctx;
  const rt = ctx.d.runtime;
  const t = state.records.get(taskId);
  // Its last attempt's log outlives it (a finished batch task, a CronJob run), within the retention.
  if (t?.containerId) keepLogs(ctx, t, t.containerId);
  for (const id of containerIds) await rt.remove(id);
  if (t?.containerId) await rt.remove(t.containerId);
  await ctx.d.network.teardown(taskId);
  await ctx.volumes?.release(taskId);
  state.live.delete(taskId);
  if (state.bindings.has(taskId) && t) {
    // Still bound (a drain): keep a final status so the scheduler sees why it stopped.
    await writeStatus(ctx, changed(t, { phase: 'stopped', message: t.message ?? 'stopped' }));
  } else {
    await ctx.d.store.status.delete(statusKey(ctx.o.node, taskId)).catch(() => {});
  }
  state.records.delete(taskId);
  if (t && t.phase === 'finished' && stateOf(t) === 'succeeded') await ctx.completed.save(t);
  await ctx.journal.remove(taskId);
}
