import { byIndexThenId, isReady, isTerminal, resolveIntOrPercent, shortHash, taskId } from './tasks.ts';
import type { ControllerEvent, ControllerResult, TaskView, WorkloadStatus } from './types.ts';
import { scaleDownOrder } from './scale-down.ts';
import { controllerResult, makeTask, partitionByTemplate, rolloutConditions, type ControllerOptions, trackWorkloadRollout, type WorkloadSpec, workloadStatus } from './workload.ts';

/** ServiceJobInput is the state a service Job's controller decides from. */
export interface ServiceJobInput {
  job: WorkloadSpec;
  replicas: number;
  /** tasks are every TaskSpec the job owns, with their agents' statuses. */
  tasks: readonly TaskView[];
  prev?: WorkloadStatus;
}

/**
 * computeServiceJob keeps `replicas` tasks of the job's current template running (Nomad's
 * AllocReconciler.compute(): state in, decisions out, no I/O). On a template change it rolls, as a
 * Kubernetes Deployment does: at most replicas+maxSurge tasks exist, at least
 * replicas-maxUnavailable tasks stay ready (old tasks are only deleted while that holds), and new
 * tasks are added only as earlier ones become ready. Tasks that ended for good are replaced. Once a
 * rollout fails (crash loop or progress deadline) nothing more is created or deleted: the cluster
 * holds, and the failure is reported for rollback.
 */
export function computeServiceJob(input: ServiceJobInput, opts: ControllerOptions): ControllerResult {
  const { job, replicas } = input;
  const strategy = job.strategy ?? {};
  const surge = resolveIntOrPercent(strategy.maxSurge, replicas, '25%', true);
  let unavailable = resolveIntOrPercent(strategy.maxUnavailable, replicas, '25%', false);
  if (surge === 0 && unavailable === 0) unavailable = 1; // as Kubernetes: something must be allowed to move

  const { current: allNew, old: allOld } = partitionByTemplate(input.tasks, job.templateHash);
  const dead = input.tasks.filter(isTerminal);
  const newLive = allNew.filter((t) => !isTerminal(t));
  const oldLive = allOld.filter((t) => !isTerminal(t));

  const decision = trackWorkloadRollout('Job', job, input.prev, { desired: replicas, newTasks: allNew, oldCount: oldLive.length }, opts);
  const rollout = decision.state;
  const create: ReturnType<typeof makeTask>[] = [];
  const del: string[] = [];

  if (rollout.phase !== 'Failed') {
    // Ended tasks free their slot; old ones simply go, new ones are recreated below.
    for (const t of dead) del.push(t.spec.id);

    // Scale up the new template within the surge bound.
    const maxTotal = replicas + surge;
    const liveCount = newLive.length + oldLive.length;
    const toCreate = Math.max(0, Math.min(replicas - newLive.length, maxTotal - liveCount));
    const usedSlots = new Set(newLive.map((t) => t.spec.index));
    const deadSlots = new Set(dead.filter((t) => t.spec.templateHash === job.templateHash).map((t) => t.spec.index));
    const hash = shortHash(job.templateHash, rollout.generation);
    for (let index = 0, made = 0; made < toCreate; index++) {
      if (usedSlots.has(index)) continue;
      // A slot whose task ended gets a fresh id: the old id's status must never be read as the new one's.
      const suffix = deadSlots.has(index) ? opts.now.toString(36) : undefined;
      create.push(makeTask(job, taskId(job.namespace, job.name, index, hash, suffix), index, opts.now));
      made++;
    }

    // Scale down old tasks without dropping below replicas-maxUnavailable ready tasks.
    const minAvailable = replicas - unavailable;
    const newUnavailable = newLive.length + create.length - newLive.filter(isReady).length;
    let budget = liveCount + create.length - minAvailable - newUnavailable;
    const oldUnready = oldLive.filter((t) => !isReady(t)).sort(byIndexThenId).reverse();
    const oldReady = oldLive.filter(isReady).sort(byIndexThenId).reverse();
    for (const t of oldUnready) {
      if (budget <= 0) break;
      del.push(t.spec.id);
      budget--;
    }
    let readyNow = oldReady.length + newLive.filter(isReady).length;
    for (const t of oldReady) {
      if (budget <= 0 || readyNow - 1 < minAvailable) break;
      del.push(t.spec.id);
      budget--;
      readyNow--;
    }

    // Plain scale-down of the current template (a lower count in Git or from the autoscaler): the
    // tasks the job would miss least first (scale-down.ts: unplaced, not running, unready, crowded).
    const surplus = newLive.length - replicas;
    if (surplus > 0) for (const t of scaleDownOrder(newLive).slice(0, surplus)) del.push(t.spec.id);
  }

  const events = [...decision.events];
  if (input.prev && input.prev.desired !== replicas && rollout.phase !== 'Failed') events.push(scaledEvent(input.prev.desired, replicas, create.length, del.length - dead.length));
  const ready = newLive.filter(isReady).length + oldLive.filter(isReady).length;
  const status = workloadStatus('Job', job, {
    desired: replicas,
    current: newLive.length + oldLive.length,
    ready,
    updated: newLive.length,
    rollout,
    conditions: rolloutConditions(input.prev, rollout, ready, replicas, opts.now),
  }, opts.now);
  return controllerResult(create, del, status, events, decision.failed);
}

/**
 * scaledEvent records a step of the count (Git's replicas, the autoscaler's live count, or Git's
 * again once `autoscale:` left), as Kubernetes' Deployment records ScalingReplicaSet: a count change
 * is a scale of the current template, not a rollout (maxSurge and maxUnavailable bound template
 * changes only, there as here); new tasks queue for the scheduler by priority, and a scale-down
 * removes the tasks the job would miss least first (scale-down.ts).
 */
function scaledEvent(from: number, to: number, created: number, removed: number): ControllerEvent {
  const step = to > from ? `${created} new task${created === 1 ? '' : 's'} queued for the scheduler by priority` : `${removed} removed, the ones the job would miss least first`;
  return { type: 'Normal', reason: 'Scaled', message: `scaled from ${from} to ${to} tasks: ${step}` };
}

export type { TaskView };
