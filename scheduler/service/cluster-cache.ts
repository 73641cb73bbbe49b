/**
 * ClusterCache: the scheduler service's cluster state, kept from the informers' changes instead of
 * rebuilt from every binding on every pass (at 10,000 nodes and 100,000 bindings the rebuild,
 * `lapsedBindings` + `buildSnapshot` + `ClusterState.fromSnapshot`, was ~94 of the scheduler's 240
 * busy CPU-seconds and most of its garbage). planPass's full rebuild stays the reference.
 *
 *   informer change ──► keyChanged(task or binding id) / nodeChanged(node or spec name) ──► marked
 *   snapshot, resnapshot (change undefined), a node joining, leaving or refused ──► full rebuild
 *   pass: sync() ► startPass(now): readiness per node, unbindings, re-queued tasks taken off,
 *         claims added, the run places into the state itself (recorded) ► plan(): rolled back
 *
 * The state holds each binding whose task exists and whose node is registered and trusted as a
 * bound task on its node: what planPass's rebuild holds before it takes the lapsed nodes' tasks off.
 * Only `sync()` changes it between passes, so a pass decided in slices sees one state while events
 * arrive. A marked key is judged again from the informers' current values, never from the event,
 * so a late, repeated or own-write (`Informer.apply`, no event) change cannot leave it wrong as long
 * as it was marked. test/unit/scheduler/cluster-cache.test.ts compares it with the rebuild after
 * random changes.
 */
import { trustedNodeRecords, type NodeRecord, type RefusedNodeRecord, type TaskSpec } from '../../api/index.ts';
import { Scheduling } from '../schedule.ts';
import { snapshotNode } from '../snapshot.ts';
import { ClusterState, toPlaced } from '../state.ts';
import type { Placement, SchedulerOptions, SnapshotNode } from '../types.ts';
import { nodeGone, nodeLost, taskGone, type PassDecision, type PassInput, type PassTimings, type Unbind } from './plan.ts';

/** CacheSources are the informers' live maps the cache reads (nodes: every record by key, not yet judged for trust). */
export type CacheSources = Omit<PassInput, 'claims'>;

/** CacheStats count the cache's work, for the pass log and tests. */
export interface CacheStats {
  rebuilds: number;
  /** task or binding ids judged again */
  keys: number;
  /** nodes judged again in place */
  nodes: number;
}

/** PreparedPass is what a pass starts from: the bindings it deletes, its pending tasks (the unbound ones included), the claims bound back. */
export interface PreparedPass {
  unbind: Unbind[];
  pending: TaskSpec[];
  reclaimed: Placement[];
}

/** ClusterCache keeps the scheduler's state from changes; see the file comment. */
export class ClusterCache {
  private state = ClusterState.ofNodes([]);
  /** every binding's node, by task id (the binding's key) */
  private readonly boundTo = new Map<string, string>();
  /** the bindings to each node name, registered or not */
  private readonly byNode = new Map<string, Set<string>>();
  /** bindings whose task is gone */
  private readonly orphans = new Set<string>();
  /** names of unregistered (or refused) nodes that have bindings */
  private readonly strays = new Set<string>();
  /** tasks without a binding */
  private readonly pending = new Set<string>();
  private readonly dirtyKeys = new Set<string>();
  private readonly dirtyNodes = new Set<string>();
  private full = true;
  /** nodes whose heartbeat time may have changed (a lease renewed, a record written); all: every node */
  private readonly dirtyBeats = new Set<string>();
  private allBeats = true;
  /** per node index: its heartbeat time (epoch ms, NaN: none), and its liveness class when last asked (livenessCrossed) */
  private beat = new Float64Array(0);
  private klass = new Uint8Array(0);
  private reclassify = true;
  /** per pass: the nodes past the re-queue grace */
  private readonly lapsedNodes: number[] = [];
  /** a pass's trial changes are in the state (startPass until plan) */
  private open = false;
  readonly stats: CacheStats = { rebuilds: 0, keys: 0, nodes: 0 };

  /** keyChanged marks a task or binding id (one id names both); undefined: any may have changed (a snapshot). */
  keyChanged(key: string | undefined): void {
    if (key === undefined) this.full = true;
    else this.dirtyKeys.add(key);
  }

  /** nodeChanged marks a node (its record, lease or spec); undefined: any may have changed. */
  nodeChanged(name: string | undefined): void {
    if (name === undefined) this.full = true;
    else this.dirtyNodes.add(name);
  }

  /**
   * beatChanged marks a node whose heartbeat time may have changed: a lease renewal or a record
   * written (neither is a NodeInformer change); undefined: every node's (a lease resnapshot).
   */
  beatChanged(name: string | undefined): void {
    if (name === undefined) this.allBeats = true;
    else this.dirtyBeats.add(name);
  }

  /**
   * livenessCrossed tells whether any node crossed a liveness threshold (ready, not ready, lapsed)
   * since the last call: time alone can change a pass. A typed-array walk over the heartbeat times
   * kept from the marks, not a read of every node's joined record (17.7 s self of the scheduler,
   * plus the joins, in a 10,000-node run).
   */
  livenessCrossed(src: CacheSources, now: number, t: PassTimings): boolean {
    this.readBeats(src);
    // Rebuilt since (nodes joined or left, a resnapshot): every class is new.
    let crossed = this.reclassify;
    this.reclassify = false;
    for (let i = 0; i < this.beat.length; i++) {
      const beat = this.beat[i]!;
      const c = !Number.isFinite(beat) ? 0 : now - beat <= t.heartbeatGraceMs ? 1 : now - beat <= t.requeueGraceMs ? 2 : 3;
      if (c !== this.klass[i]) {
        this.klass[i] = c;
        crossed = true;
      }
    }
    return crossed;
  }

  /** reset makes the next sync a full rebuild (the recovery path). */
  reset(): void {
    this.full = true;
  }

  /** pendingIds are the tasks without a binding as of the last sync. */
  pendingIds(): ReadonlySet<string> {
    return this.pending;
  }

  /**
   * sync folds the marked changes in (a full rebuild after a reset, a snapshot or a node joining or
   * leaving) and returns the node records refused for naming another node than their key.
   */
  sync(src: CacheSources): RefusedNodeRecord[] {
    this.close();
    const refused = this.full ? undefined : this.syncNodes(src);
    if (!refused) return this.rebuild(src);
    for (const key of this.dirtyKeys) {
      this.unaccount(key);
      this.account(key, src);
    }
    this.stats.keys += this.dirtyKeys.size;
    this.dirtyKeys.clear();
    return refused;
  }

  /**
   * startPass is planPass on the cache (call `sync` just before, in the same turn): the same
   * unbindings, reclaimed claims and decision as the rebuild on the same informers. The run
   * changes the state; `plan()` takes its result and rolls the state back.
   */
  startPass(src: CacheSources, now: number, timings: PassTimings, options: Partial<SchedulerOptions>, claims?: ReadonlyMap<string, string>): PassDecision {
    const { unbind, pending, reclaimed } = this.prepare(src, now, timings, claims);
    const scheduling = new Scheduling(this.state, pending, options);
    return {
      scheduling,
      plan: () => {
        const result = scheduling.result();
        this.close();
        return { unbind, result: reclaimed.length ? { ...result, placements: [...reclaimed, ...result.placements] } : result };
      },
    };
  }

  /**
   * prepare opens a pass: readiness judged as of `now`, the bindings to delete listed and the lapsed
   * nodes' tasks taken off, claims bound back; `working` is then the state the pass places into,
   * until `close()`.
   */
  prepare(src: CacheSources, now: number, timings: PassTimings, claims?: ReadonlyMap<string, string>): PreparedPass {
    this.close();
    this.judge(src, now, timings);
    this.state.record();
    this.open = true;
    const { unbind, requeued } = this.lapsed(src, now, timings.requeueGraceMs);
    const { reclaimed, taken } = this.reclaim(src, claims);
    const pending: TaskSpec[] = requeued;
    for (const id of this.pending) if (!taken.has(id)) pending.push(src.tasks.get(id)!);
    return { unbind, pending, reclaimed };
  }

  /** working is the cache's state: between passes the bound tasks, during one what `prepare` made of it. */
  get working(): ClusterState {
    return this.state;
  }

  /** close rolls a pass's trial changes back, if any (also when a pass ended without its plan). */
  close(): void {
    if (!this.open) return;
    this.open = false;
    this.state.rollback();
    for (const [key, job] of this.state.jobs) if (job.perNode.size === 0) this.state.jobs.delete(key);
  }

  /** rebuild makes everything again from the sources. */
  private rebuild(src: CacheSources): RefusedNodeRecord[] {
    this.stats.rebuilds++;
    this.full = false;
    this.dirtyKeys.clear();
    this.dirtyNodes.clear();
    const { nodes, refused } = trustedNodeRecords(src.nodes);
    this.state = ClusterState.ofNodes([...nodes.values()].map((r) => unjudged(r, src)));
    this.beat = new Float64Array(this.state.n);
    this.klass = new Uint8Array(this.state.n);
    this.reclassify = true;
    this.allBeats = true;
    this.boundTo.clear();
    this.byNode.clear();
    this.orphans.clear();
    this.strays.clear();
    this.pending.clear();
    for (const key of src.bindings.keys()) this.account(key, src);
    for (const key of src.tasks.keys()) if (!src.bindings.has(key)) this.pending.add(key);
    return refused;
  }

  /** syncNodes judges the marked nodes again in place; undefined when one joined or left (the index must be rebuilt). */
  private syncNodes(src: CacheSources): RefusedNodeRecord[] | undefined {
    const refused: RefusedNodeRecord[] = [];
    for (const name of this.dirtyNodes) {
      const record = src.nodes.get(name);
      const judged = record ? trustedNodeRecords([[name, record]]) : undefined;
      if (judged) refused.push(...judged.refused);
      const trusted = judged?.nodes.get(name);
      const i = this.state.index.get(name);
      if ((trusted === undefined) !== (i === undefined)) return undefined;
      if (trusted && i !== undefined) this.state.setNode(i, unjudged(trusted, src));
      this.dirtyBeats.add(name);
      this.stats.nodes++;
    }
    this.dirtyNodes.clear();
    return refused;
  }

  /** account adds key's task or binding (none of it accounted yet). */
  private account(key: string, src: CacheSources): void {
    const b = src.bindings.get(key)?.value;
    const task = src.tasks.get(key);
    if (!b) {
      if (task) this.pending.add(key);
      return;
    }
    this.boundTo.set(key, b.node);
    let keys = this.byNode.get(b.node);
    if (!keys) this.byNode.set(b.node, (keys = new Set()));
    keys.add(key);
    if (!task) {
      this.orphans.add(key);
      return;
    }
    const i = this.state.index.get(b.node);
    if (i !== undefined) this.state.add(toPlaced(task, i, true));
    else this.strays.add(b.node);
  }

  /** unaccount takes everything known of key out. */
  private unaccount(key: string): void {
    this.pending.delete(key);
    this.orphans.delete(key);
    const node = this.boundTo.get(key);
    if (node === undefined) return;
    this.boundTo.delete(key);
    const keys = this.byNode.get(node)!;
    keys.delete(key);
    if (keys.size === 0) {
      this.byNode.delete(node);
      this.strays.delete(node);
    }
    const placed = this.state.byTaskId.get(key);
    if (placed) this.state.remove(placed);
  }

  /** readBeats reads the marked nodes' heartbeat times (every node's after a resnapshot or rebuild) from the joined records. */
  private readBeats(src: CacheSources): void {
    const s = this.state;
    const read = (i: number): void => {
      const record = src.nodes.get(s.nodes[i]!.name);
      this.beat[i] = record ? Date.parse(record.heartbeatAt) : NaN;
    };
    if (this.allBeats) for (let i = 0; i < s.n; i++) read(i);
    else
      for (const name of this.dirtyBeats) {
        const i = s.index.get(name);
        if (i !== undefined) read(i);
      }
    this.allBeats = false;
    this.dirtyBeats.clear();
  }

  /** judge sets every node's readiness as of `now` and lists the nodes past the re-queue grace. */
  private judge(src: CacheSources, now: number, t: PassTimings): void {
    this.readBeats(src);
    const s = this.state;
    this.lapsedNodes.length = 0;
    for (let i = 0; i < s.n; i++) {
      const beat = this.beat[i]!;
      s.setReady(i, isLive(beat, now, t.heartbeatGraceMs));
      if (!isLive(beat, now, t.requeueGraceMs)) this.lapsedNodes.push(i);
    }
  }

  /**
   * lapsed lists the bindings to delete (as planPass's lapsedBindings does) and takes the tasks of
   * lapsed nodes off the state for this pass; the tasks unbound are pending again in it.
   */
  private lapsed(src: CacheSources, now: number, requeueGraceMs: number): { unbind: Unbind[]; requeued: TaskSpec[] } {
    const unbind: Unbind[] = [];
    const requeued: TaskSpec[] = [];
    const revision = (key: string): number => src.bindings.get(key)!.revision;
    for (const key of this.orphans) unbind.push(taskGone(key, this.boundTo.get(key)!, revision(key)));
    const requeue = (name: string, i: number | undefined): void => {
      for (const key of this.byNode.get(name) ?? []) {
        const task = src.tasks.get(key);
        // Orphans are listed above; DaemonSet tasks stay on their node.
        if (!task || task.nodeName === name) continue;
        requeued.push(task);
        if (i === undefined) {
          unbind.push(nodeGone(key, name, revision(key)));
          continue;
        }
        unbind.push(nodeLost(key, name, revision(key), this.beat[i]!, now, requeueGraceMs));
        this.state.remove(this.state.byTaskId.get(key)!);
      }
    };
    for (const name of this.strays) requeue(name, undefined);
    for (const i of this.lapsedNodes) requeue(this.state.nodes[i]!.name, i);
    return { unbind, requeued };
  }

  /** reclaim binds each claimed pending task back to the ready node running it, as planPass's reclaim. */
  private reclaim(src: CacheSources, claims: ReadonlyMap<string, string> | undefined): { reclaimed: Placement[]; taken: Set<string> } {
    const reclaimed: Placement[] = [];
    const taken = new Set<string>();
    for (const [taskId, nodeName] of claims ?? []) {
      const task = src.tasks.get(taskId);
      const i = this.state.index.get(nodeName);
      if (!task || !this.pending.has(taskId) || i === undefined || !this.state.nodes[i]!.ready) continue;
      if (task.nodeName !== undefined && task.nodeName !== nodeName) continue;
      this.state.add(toPlaced(task, i, true));
      taken.add(taskId);
      reclaimed.push({ taskId, node: nodeName, score: 100 });
    }
    return { reclaimed, taken };
  }
}

/** unjudged is a node's snapshot with its readiness not judged yet (startPass judges it at the pass's instant). */
function unjudged(record: NodeRecord, src: CacheSources): SnapshotNode {
  return { ...snapshotNode(record, src.nodeSpecs.get(record.name), 0, 0), ready: false };
}

/** isLive is nodeIsLive on a parsed heartbeat time: within `graceMs` of `now` (NaN: never beat). */
function isLive(beat: number, now: number, graceMs: number): boolean {
  return Number.isFinite(beat) && now - beat <= graceMs;
}
