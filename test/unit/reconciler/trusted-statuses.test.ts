// The incremental judgement of task statuses (reconciler/apply/trusted-statuses.ts) against the
// full recomputation it replaces, after random sequences of changes (nodes: eligible-nodes.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statusKey, trustedTaskStatuses, type TaskSpec, type TaskStatus } from '../../../api/index.ts';
import { groupTasksByOwner } from '../../../reconciler/apply/controllers-pass.ts';
import { placementOf, TrustedStatusIndex } from '../../../reconciler/apply/trusted-statuses.ts';
import { Rng } from './rng.ts';

const NODES = ['n1', 'n2', 'n3'];
const TASKS = ['a.j1.0', 'a.j1.1', 'a.j2.0', 'a.j2.1', 'a.j3.0'];
const jobOf = (id: string) => `Job/a/${id.split('.')[1]}`;

const task = (id: string, extra: Partial<TaskSpec> = {}): TaskSpec => ({
  id, namespace: 'a', owner: { kind: 'Job', name: id.split('.')[1]! }, jobKey: jobOf(id), index: 0, priority: 0, type: 'service',
  templateHash: 'h', template: {} as TaskSpec['template'], generation: 1, createdAt: '', ...extra,
});

const status = (node: string, taskId: string, updatedAt: string): TaskStatus => ({ node, taskId, updatedAt, state: 'running' } as unknown as TaskStatus);

/** World is the three buckets as informers hold them, and the index told of every change. */
class World {
  readonly tasks = new Map<string, TaskSpec>();
  readonly statuses = new Map<string, TaskStatus>();
  readonly bindings = new Map<string, string>();
  readonly index = new TrustedStatusIndex({ tasks: this.tasks, statuses: this.statuses, boundNode: (id) => this.bindings.get(id) });

  /** change makes one random change and tells the index, as the informers' listeners do. */
  change(r: Rng): void {
    const id = r.pick(TASKS);
    const node = r.pick(NODES);
    switch (r.int(7)) {
      case 0: // a task created or changed: sometimes pinned (DaemonSet) or hinted (a rebuilt store)
        this.tasks.set(id, task(id, r.chance(0.2) ? { nodeName: node } : r.chance(0.2) ? { runningOn: node } : {}));
        return this.index.taskChanged(id);
      case 1:
        this.tasks.delete(id);
        return this.index.taskChanged(id);
      case 2:
      case 3: {
        // Mostly honest; sometimes a forged body (another node or task than its key); few times so ties happen.
        const key = statusKey(node, id);
        const body = r.chance(0.15) ? status(r.pick(NODES), r.pick(TASKS), `t${r.int(3)}`) : status(node, id, `t${r.int(3)}`);
        this.statuses.set(key, body);
        return this.index.statusChanged(key);
      }
      case 4: {
        const key = statusKey(node, id);
        this.statuses.delete(key);
        return this.index.statusChanged(key);
      }
      case 5:
        if (r.chance(0.5)) this.bindings.set(id, node);
        else this.bindings.delete(id);
        return this.index.bindingChanged(id);
      default:
        if (r.chance(0.1)) this.index.invalidate();
    }
  }

  /** check compares the index with the full recomputation. */
  check(seed: number, step: number): void {
    const at = `seed ${seed} step ${step}`;
    const full = trustedTaskStatuses(this.statuses, placementOf({ tasks: this.tasks, statuses: this.statuses, boundNode: (id) => this.bindings.get(id) }));
    const index = this.index.current();
    const sorted = <T>(m: Iterable<[string, T]>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(sorted(index.byTask), sorted(full.byTask), at);
    // The very objects: the newest report wins, and on a tie the one met first, as in the full scan.
    for (const [id, s] of full.byTask) assert.equal(index.byTask.get(id), s, `${at}: ${id}`);
    const byKey = (xs: { key: string }[]) => [...xs].sort((a, b) => (a.key < b.key ? -1 : 1));
    assert.deepEqual(byKey(index.refused()), byKey(full.refused), at);
    const grouped = groupTasksByOwner(this.tasks.values(), full.byTask);
    assert.deepEqual(sorted(index.tasksByOwner()), sorted(grouped), at);
  }
}

test('TrustedStatusIndex equals trustedTaskStatuses and groupTasksByOwner after any sequence of changes', () => {
  for (let seed = 1; seed <= 200; seed++) {
    const r = new Rng(seed);
    const w = new World();
    for (let step = 0; step < 150; step++) {
      w.change(r);
      if (r.chance(0.3)) w.check(seed, step);
    }
    w.check(seed, -1);
  }
});

test('TrustedStatusIndex judges like the rule: a status counts only from the node the task is bound to', () => {
  const w = new World();
  w.tasks.set('a.j1.0', task('a.j1.0'));
  w.statuses.set(statusKey('n1', 'a.j1.0'), status('n1', 'a.j1.0', 't1'));
  w.statuses.set(statusKey('n2', 'a.j1.0'), status('n2', 'a.j1.0', 't2'));
  w.index.rebuild();
  assert.equal(w.index.byTask.get('a.j1.0'), undefined, 'unbound: no status');
  w.bindings.set('a.j1.0', 'n1');
  w.index.bindingChanged('a.j1.0');
  assert.equal(w.index.byTask.get('a.j1.0')?.node, 'n1');
  assert.deepEqual(w.index.refused().map((x) => [x.node, x.boundTo]), [['n2', 'n1']]);
  assert.equal(w.index.tasksByOwner().get('Job/a/j1')?.[0]?.status?.node, 'n1');
  // The task goes: the newest report of any node is kept (what re-adopts it after a store rebuild).
  w.tasks.delete('a.j1.0');
  w.index.taskChanged('a.j1.0');
  assert.equal(w.index.byTask.get('a.j1.0')?.node, 'n2');
  assert.deepEqual(w.index.refused(), []);
  assert.equal(w.index.tasksByOwner().size, 0);
});
