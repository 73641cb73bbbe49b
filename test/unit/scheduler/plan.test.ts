// The service's pure parts: planPass (what a pass unbinds and places) and the event limiter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLimiter, planPass, type PassInput } from '../../../scheduler/index.ts';
import type { Binding, NodeRecord, TaskSpec } from '../../../api/index.ts';
import { Gi, MakeTask, nodeRecord, taskSpec } from './builders.ts';
import { FilterNodeNotReady } from '../../../scheduler/index.ts';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const timings = { heartbeatGraceMs: 10_000, requeueGraceMs: 30_000 };

function node(name: string, secondsAgo: number): NodeRecord {
  return nodeRecord(name, new Date(NOW - secondsAgo * 1000).toISOString());
}
const spec = taskSpec;
const bind = (taskId: string, n: string, revision: number) => [taskId, { value: { taskId, node: n, boundAt: '', schedulerTerm: 1 } as Binding, revision }] as const;

function input(nodes: NodeRecord[], tasks: TaskSpec[], bindings: ReturnType<typeof bind>[]): PassInput {
  return { nodes: new Map(nodes.map((n) => [n.name, n])), nodeSpecs: new Map(), tasks: new Map(tasks.map((t) => [t.id, t])), bindings: new Map(bindings) };
}

test('planPass: tasks of a node silent past the re-queue grace are unbound and placed again', () => {
  const plan = planPass(
    input([node('dead', 31), node('slow', 20), node('live', 1)], [spec(MakeTask('a-0')), spec(MakeTask('b-0')), spec(MakeTask('c-0'))], [bind('a-0', 'dead', 5), bind('b-0', 'slow', 6)]),
    NOW,
    timings,
    { seed: 1 },
  );
  // dead: 31 s > 30 s grace -> unbound; slow: 20 s is past readiness (10 s) but not re-queue (30 s) -> kept.
  assert.deepEqual(plan.unbind.map((u) => [u.taskId, u.reason, u.revision]), [['a-0', 'NodeLost', 5]]);
  assert.equal(plan.unbind[0]!.message, 'node dead missed heartbeats for 31s (grace 30s); task a-0 goes back to pending');
  // a-0 and c-0 are pending; only `live` is ready (slow is past readiness, dead is dead).
  assert.deepEqual(plan.result.placements.map((p) => [p.taskId, p.node]).sort(), [['a-0', 'live'], ['c-0', 'live']]);
});

test('planPass: bindings of vanished nodes and deleted tasks are removed; DaemonSet tasks stay on their lapsed node', () => {
  const plan = planPass(
    input([node('dead', 300)], [spec(MakeTask('a-0')), spec(MakeTask('ds-0').OnNode('dead'))], [bind('a-0', 'gone', 1), bind('zz-0', 'dead', 2), bind('ds-0', 'dead', 3)]),
    NOW,
    timings,
    { seed: 1 },
  );
  assert.deepEqual(plan.unbind.map((u) => [u.taskId, u.reason]).sort(), [['a-0', 'NodeGone'], ['zz-0', 'TaskGone']]);
  assert.equal(plan.result.unplaced[0]!.message, `0/1 nodes fit: 1 ${FilterNodeNotReady}`);
});

test('EventLimiter: one event per task per interval, sooner for a new reason, a budget per pass', () => {
  const l = new EventLimiter({ intervalMs: 60_000, minMs: 5_000, perPass: 2 });
  assert.equal(l.allow('t1', 'no memory', 0), true);
  assert.equal(l.allow('t1', 'no memory', 59_999), false, 'same reason inside the interval');
  assert.equal(l.allow('t1', 'no cpu', 4_999), false, 'new reason, but too soon');
  assert.equal(l.allow('t1', 'no cpu', 5_000), true, 'new reason after minMs');
  assert.equal(l.allow('t2', 'x', 5_000), false, 'pass budget of 2 spent');
  l.newPass();
  assert.equal(l.allow('t2', 'x', 5_000), true);
  assert.equal(l.allow('t1', 'no cpu', 65_000), true, 'repeat after the interval');
  l.forget('t2');
  l.newPass();
  assert.equal(l.allow('t2', 'x', 5_001), true, 'forgotten after being placed');
});

test('planPass: a claimed pending task is bound back to the live node running it, even past its room, before others are placed', () => {
  const small = { ...node('n1', 1), allocatable: { cpuMillis: 100, memoryBytes: Gi, tasks: 110 } };
  const big = spec(MakeTask('big-0').Req(100, Gi));
  const other = spec(MakeTask('other-0').Req(100, Gi));
  const plan = planPass({ ...input([small, node('n2', 1)], [big, other], []), claims: new Map([['big-0', 'n1']]) }, NOW, timings, { seed: 1 });
  assert.deepEqual(plan.result.placements.map((p) => [p.taskId, p.node]), [['big-0', 'n1'], ['other-0', 'n2']]);
});

test('planPass: a claim on a silent node, for a bound task or against a DaemonSet pin is ignored', () => {
  const pinned = spec(MakeTask('ds-0').OnNode('n2'));
  const bound = spec(MakeTask('b-0'));
  const lapsed = spec(MakeTask('l-0'));
  const plan = planPass(
    { ...input([node('n1', 1), node('n2', 1), node('dead', 60)], [pinned, bound, lapsed], [bind('b-0', 'n2', 3)]), claims: new Map([['ds-0', 'n1'], ['b-0', 'n1'], ['l-0', 'dead']]) },
    NOW,
    timings,
    { seed: 1 },
  );
  const placed = new Map(plan.result.placements.map((p) => [p.taskId, p.node]));
  assert.equal(placed.get('ds-0'), 'n2');
  assert.equal(placed.has('b-0'), false);
  assert.notEqual(placed.get('l-0'), 'dead');
});
