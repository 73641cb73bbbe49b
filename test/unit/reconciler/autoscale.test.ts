// The autoscaler's decision core against the Kubernetes HPA documentation's worked examples
// (kubernetes.io "Horizontal Pod Autoscaling": algorithm details, scaling policies, stabilization
// window, default behavior) and the KEP-4951 blog's 50-replica example. Each expected number is
// derived in a comment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveScalingRules, type AutoscaleRecord, type AutoscaleSpec, type ScalingRules } from '../../../api/index.ts';
import { decideAutoscale, proposeReplicas, scaleDownLimit, scaleUpLimit, stabilize, type MetricInput, type TaskSample } from '../../../reconciler/autoscale/index.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');

/** tasks makes `n` running ready tasks with `value` each (and `request` for utilization metrics). */
function tasks(n: number, value: number | undefined, o: { request?: number; ready?: boolean; running?: boolean; from?: number } = {}): TaskSample[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `t${(o.from ?? 0) + i}`,
    running: o.running ?? true,
    ready: o.ready ?? true,
    ...(value !== undefined ? { value } : {}),
    ...(o.request !== undefined ? { request: o.request } : {}),
  }));
}

test('algorithm: current 200m over a desired 100m doubles the replicas, 50m halves them', () => {
  // ceil(2 × 200/100) = 4; ceil(4 × 50/100) = 2.
  assert.equal(proposeReplicas(2, tasks(2, 200), { averageValue: 100 }).replicas, 4);
  assert.equal(proposeReplicas(4, tasks(4, 50), { averageValue: 100 }).replicas, 2);
  // The same as a utilization: 200m used of a 100m request is 200 % against a 100 % target.
  const p = proposeReplicas(2, tasks(2, 200, { request: 100 }), { utilization: 100 });
  assert.deepEqual([p.replicas, p.current], [4, 200]);
});

test('algorithm: 50 replicas at 90 % CPU with a 75 % target go to 60 (50 × 90/75)', () => {
  assert.equal(proposeReplicas(50, tasks(50, 90, { request: 100 }), { utilization: 75 }).replicas, 60);
});

test('tolerance: a ratio within 10 % of 1.0 changes nothing', () => {
  // 109/100 = 1.09: inside the tolerance, stay at 10. 111/100 = 1.11: ceil(10 × 1.11) = 12.
  assert.equal(proposeReplicas(10, tasks(10, 109), { averageValue: 100 }).replicas, 10);
  assert.equal(proposeReplicas(10, tasks(10, 111), { averageValue: 100 }).replicas, 12);
  // 91/100 = 0.91 stays; 89/100: ceil(10 × 0.89) = 9.
  assert.equal(proposeReplicas(10, tasks(10, 91), { averageValue: 100 }).replicas, 10);
  assert.equal(proposeReplicas(10, tasks(10, 89), { averageValue: 100 }).replicas, 9);
});

test('missing metrics: 100 % of the target on a scale-down, 0 on a scale-up', () => {
  // Scale-down: 3 ready at 50 % + 1 missing taken at 100 %: (150 + 100) / 400 = 0.625, ceil(0.625 × 4) = 3
  // (without the conservative fill it would be ceil(0.5 × 3) = 2).
  const down = proposeReplicas(4, [...tasks(3, 50, { request: 100 }), ...tasks(1, undefined, { request: 100, from: 3 })], { utilization: 100 });
  assert.deepEqual([down.replicas, down.missing, down.ready], [3, 1, 3]);
  // Scale-up: 2 ready at 200 % + 2 missing taken at 0: 400 / 400 = 1.0, inside the tolerance: stay at 4.
  assert.equal(proposeReplicas(4, [...tasks(2, 200, { request: 100 }), ...tasks(2, undefined, { request: 100, from: 2 })], { utilization: 100 }).replicas, 4);
  // Scale-up that survives the fill: 2 at 400 % + 2 missing: 800 / 400 = 2.0, ceil(2 × 4) = 8.
  assert.equal(proposeReplicas(4, [...tasks(2, 400, { request: 100 }), ...tasks(2, undefined, { request: 100, from: 2 })], { utilization: 100 }).replicas, 8);
  // An average-value metric fills a missing task with the target on a scale-down: (20 + 20 + 100) / 3 = 46.7 → ceil(0.467 × 3) = 2.
  assert.equal(proposeReplicas(3, [...tasks(2, 20), ...tasks(1, undefined, { from: 2 })], { averageValue: 100 }).replicas, 2);
});

test('unready tasks: counted as 0 on a scale-up, left out of a scale-down', () => {
  // Scale-up: 2 ready at 150 % + 2 not ready at 0: 300 / 400 = 0.75 reverses the direction: stay at 4.
  assert.equal(proposeReplicas(4, [...tasks(2, 150, { request: 100 }), ...tasks(2, 150, { request: 100, ready: false, from: 2 })], { utilization: 100 }).replicas, 4);
  // 2 ready at 300 % + 2 starting at 0: 600 / 400 = 1.5, ceil(1.5 × 4) = 6; 2 ready at 120 % + 2 starting:
  // 240 / 400 = 0.6 reverses the direction, stay at 4 (the ready ones alone would have asked ceil(1.2 × 2) = 3).
  assert.equal(proposeReplicas(4, [...tasks(2, 300, { request: 100 }), ...tasks(2, undefined, { running: false, request: 100, from: 2 })], { utilization: 100 }).replicas, 6);
  assert.equal(proposeReplicas(4, [...tasks(2, 120, { request: 100 }), ...tasks(2, undefined, { running: false, request: 100, from: 2 })], { utilization: 100 }).replicas, 4);
  // Scale-down: 2 ready at 50 % and 2 unready are set aside: ceil(0.5 × 2) = 1.
  assert.equal(proposeReplicas(4, [...tasks(2, 50, { request: 100 }), ...tasks(2, 50, { request: 100, ready: false, from: 2 })], { utilization: 100 }).replicas, 1);
  // Nothing ready has a reading: no proposal at all.
  assert.throws(() => proposeReplicas(2, tasks(2, 10, { ready: false }), { averageValue: 5 }), /not ready/);
});

const rules = (direction: 'up' | 'down', r?: ScalingRules) => resolveScalingRules(direction, r);

test('policies: scale down 80 → 10 by Pods 4 and Percent 10 per 60 s (the documentation example)', () => {
  const down = rules('down', { policies: [{ type: 'Pods', value: 4, periodSeconds: 60 }, { type: 'Percent', value: 10, periodSeconds: 60 }] });
  // Max (default) picks the policy allowing the largest change: 80 - max(4, 8) = 72.
  assert.equal(scaleDownLimit(80, [], down, T0), 72);
  // Next period at 72: 10 % is 7.2, the count drops to int(72 × 0.9) = 64, so 8 go.
  assert.equal(scaleDownLimit(72, [{ at: T0, change: -8 }], down, T0 + 61_000), 64);
  // Within the same period the 8 already removed count: start 80, limit 72 again, no further drop.
  assert.equal(scaleDownLimit(72, [{ at: T0, change: -8 }], down, T0 + 30_000), 72);
  // Under 40 tasks the Pods policy is the larger change: 30 - max(4, 3) = 26.
  assert.equal(scaleDownLimit(30, [], down, T0), 26);
});

test('policies: selectPolicy Min allows the smaller change ("a final drop of 5 pods")', () => {
  const down = rules('down', { selectPolicy: 'Min', policies: [{ type: 'Percent', value: 10, periodSeconds: 60 }, { type: 'Pods', value: 5, periodSeconds: 60 }] });
  // 100 tasks: 10 % → 90, 5 tasks → 95; the smaller change is 95.
  assert.equal(scaleDownLimit(100, [], down, T0), 95);
  // 20 tasks: 10 % → 18, 5 tasks → 15; the smaller change is 18.
  assert.equal(scaleDownLimit(20, [], down, T0), 18);
  assert.equal(scaleDownLimit(20, [], rules('down', { selectPolicy: 'Disabled' }), T0), 20);
});

test('default behavior: scale up by 100 % or 4 tasks per 15 s, whichever is more', () => {
  const up = rules('up');
  // 2 tasks: max(2 × 2, 2 + 4) = 6. 10 tasks: max(20, 14) = 20.
  assert.equal(scaleUpLimit(2, [], up, T0), 6);
  assert.equal(scaleUpLimit(10, [], up, T0), 20);
  // 4 added 5 s ago: the period started at 2, so the limit is still 6; 16 s later it starts at 6: 12.
  assert.equal(scaleUpLimit(6, [{ at: T0, change: 4 }], up, T0 + 5_000), 6);
  assert.equal(scaleUpLimit(6, [{ at: T0, change: 4 }], up, T0 + 16_000), 12);
  assert.equal(scaleUpLimit(6, [], rules('up', { selectPolicy: 'Disabled' }), T0), 6);
});

test('stabilization: scale down to the highest recommendation of the last 300 s, up at once', () => {
  const base = { now: T0 + 400_000, current: 10, min: 1, max: 20, up: rules('up'), down: rules('down'), scaleEvents: [] };
  const recommendations = [{ at: T0 + 200_000, replicas: 9 }, { at: T0 + 300_000, replicas: 7 }, { at: T0 + 50_000, replicas: 10 }];
  // The 10 is older than 300 s; the window holds 9 and 7: the count goes no lower than 9.
  assert.deepEqual(stabilize({ ...base, proposal: 4, recommendations }), { replicas: 9, reason: 'ScaleDownStabilized', message: 'recent recommendations were higher than the current one, applying the highest recent recommendation' });
  // Up has no window by default: 15 at once.
  assert.equal(stabilize({ ...base, proposal: 15, recommendations }).replicas, 15);
  // An up window of 60 s holding a 12 lets the count rise only to 12.
  assert.equal(stabilize({ ...base, up: rules('up', { stabilizationWindowSeconds: 60 }), proposal: 15, recommendations: [{ at: T0 + 370_000, replicas: 12 }] }).replicas, 12);
});

const cpu = (target: number, extra: Partial<AutoscaleSpec> = {}): AutoscaleSpec => ({ minReplicas: 2, maxReplicas: 10, metrics: [{ resource: 'cpu', targetAverageUtilization: target }], ...extra });
const input = (spec: AutoscaleSpec, metrics: MetricInput[], now: number, prev?: AutoscaleRecord) => ({ namespace: 'default', name: 'web', spec, gitReplicas: 2, metrics, now, ...(prev ? { prev } : {}) });

test('decide: scale up at once, limited by the rate policy and then by maxReplicas; every decision names its inputs', () => {
  // 2 tasks at 450 % of a 50 % target: ceil(2 × 9) = 18; default policy allows max(4, 6) = 6 at once.
  const a = decideAutoscale(input(cpu(50), [{ samples: tasks(2, 450, { request: 100 }) }], T0));
  assert.deepEqual([a.decision.current, a.decision.proposal, a.decision.stabilized, a.decision.desired, a.decision.reason], [2, 18, 18, 6, 'ScaleUpLimit']);
  assert.deepEqual(a.decision.metrics, [{ metric: 'cpu', target: 50, current: 450, proposal: 18, ready: 2, missing: 0, unready: 0 }]);
  assert.ok(a.changed && a.notable);
  assert.deepEqual(a.record.scaleEvents, [{ at: T0, change: 4 }]);
  // 15 s later, still hot: 6 × 9 = 54 proposed, the policy allows 12, maxReplicas 10 wins.
  const b = decideAutoscale(input(cpu(50), [{ samples: tasks(6, 450, { request: 100 }) }], T0 + 15_001, a.record));
  assert.deepEqual([b.decision.desired, b.decision.reason], [10, 'TooManyReplicas']);
});

test('decide: a new autoscaler waits out the scale-down window; then it goes down, to minReplicas at most', () => {
  const spec = cpu(50, { behavior: { scaleDown: { stabilizationWindowSeconds: 30 } } });
  const start = decideAutoscale({ ...input(spec, [{ samples: tasks(4, 5, { request: 100 }) }], T0), gitReplicas: 4 });
  // Its first recommendation is where it starts (4): proposal ceil(4 × 0.1) = 1, held at 4.
  assert.deepEqual([start.decision.proposal, start.decision.desired, start.decision.reason], [1, 4, 'ScaleDownStabilized']);
  const later = decideAutoscale(input(spec, [{ samples: tasks(4, 5, { request: 100 }) }], T0 + 31_000, start.record));
  // The window now holds only proposals of 1: stabilized 1, bounded by minReplicas 2.
  assert.deepEqual([later.decision.stabilized, later.decision.desired, later.decision.reason], [1, 2, 'TooFewReplicas']);
});

test('decide: missing metrics hold the count; a failing metric forbids a scale-down but not a scale-up', () => {
  const two: AutoscaleSpec = { maxReplicas: 10, metrics: [{ resource: 'cpu', targetAverageUtilization: 50 }, { prometheus: { query: 'q' }, targetAverageValue: 10 }] };
  const none = decideAutoscale(input(two, [{ error: 'no samples' }, { error: 'prometheus down' }], T0));
  assert.deepEqual([none.decision.desired, none.decision.reason], [2, 'FailedGetMetrics']);
  const down = decideAutoscale(input(two, [{ samples: tasks(2, 5, { request: 100 }) }, { error: 'prometheus down' }], T0));
  assert.deepEqual([down.decision.desired, down.decision.reason], [2, 'ScaleDownSkipped']);
  // cpu at 100 % of 50: ceil(2 × 2) = 4, allowed (a scale-up on partial metrics is what Kubernetes does).
  const up = decideAutoscale(input(two, [{ samples: tasks(2, 100, { request: 100 }) }, { error: 'prometheus down' }], T0));
  assert.equal(up.decision.desired, 4);
  // Both metrics read: the larger proposal wins (cpu 2, queue ceil(2 × 35/10) = 7).
  const both = decideAutoscale(input(two, [{ samples: tasks(2, 50, { request: 100 }) }, { samples: tasks(2, 35) }], T0));
  assert.deepEqual([both.decision.metrics.map((m) => m.proposal), both.decision.desired], [[2, 7], 6]);
});

test('decide: at the cluster capacity the count holds with the scheduler’s reason instead of growing', () => {
  const r = decideAutoscale({ ...input(cpu(50), [{ samples: tasks(2, 200, { request: 100 }) }], T0), unplaced: { count: 1, message: '0/3 nodes fit: 3 insufficient cpu' } });
  assert.deepEqual([r.decision.desired, r.decision.reason, r.changed], [2, 'CapacityLimited', false]);
  assert.match(r.decision.message, /would scale to 6 .*1 task\(s\) wait for a node: 0\/3 nodes fit: 3 insufficient cpu/);
  // A scale-down is never held.
  const down = decideAutoscale({ ...input(cpu(50, { behavior: { scaleDown: { stabilizationWindowSeconds: 0 } } }), [{ samples: tasks(4, 10, { request: 100 }) }], T0), gitReplicas: 4, unplaced: { count: 1, message: 'x' } });
  assert.equal(down.decision.desired, 2);
});

test('decide: outside the bounds the count is brought back first; a quiet decision is not news', () => {
  const prev: AutoscaleRecord = { namespace: 'default', name: 'web', replicas: 12, recommendations: [], scaleEvents: [], decisions: [], updatedAt: '' };
  assert.deepEqual(decideAutoscale(input(cpu(50), [], T0, prev)).decision.reason, 'TooManyReplicas');
  const steady = decideAutoscale(input(cpu(50), [{ samples: tasks(2, 52, { request: 100 }) }], T0));
  const again = decideAutoscale(input(cpu(50), [{ samples: tasks(2, 52, { request: 100 }) }], T0 + 15_000, steady.record));
  assert.deepEqual([steady.notable, again.notable, again.record.decisions.length], [true, false, 1]);
});

test('samples: cgroup usage against requests, ended tasks left out, a task without a request refused, unplaced after the grace', async () => {
  const { resourceSamples, unplacedTasks } = await import('../../../reconciler/autoscale/index.ts');
  const spec = (id: string, cpuMillis: number, createdAt = new Date(T0).toISOString()) => ({ id, createdAt, template: { resources: { requests: { cpuMillis, memoryBytes: 64 << 20 } } } }) as never;
  const status = (id: string, state: 'running' | 'stopped' | 'starting', usage?: { cpuMillis: number; memoryBytes: number }) => ({ taskId: id, node: 'n1', templateHash: 'h', state, ready: state === 'running', restarts: 0, updatedAt: '', ...(usage ? { usage } : {}) });
  const jobTasks = [
    { spec: spec('a', 100), status: status('a', 'running', { cpuMillis: 80, memoryBytes: 32 << 20 }) },
    { spec: spec('b', 100), status: status('b', 'running') },
    { spec: spec('c', 100), status: status('c', 'stopped', { cpuMillis: 5, memoryBytes: 1 }) },
    { spec: spec('d', 100), status: status('d', 'starting') },
  ];
  assert.deepEqual(resourceSamples(jobTasks, 'cpu'), [
    { id: 'a', running: true, ready: true, request: 100, value: 80 },
    { id: 'b', running: true, ready: true, request: 100 },
    { id: 'd', running: false, ready: false, request: 100 },
  ]);
  assert.equal(resourceSamples(jobTasks, 'memory')[0]!.value, 32 << 20);
  assert.throws(() => resourceSamples([{ spec: spec('x', 0) }], 'cpu'), /no cpu request/);
  // Unbound for longer than the grace: waiting for capacity; bound or young: not.
  const unbound = [{ spec: spec('u', 100, new Date(T0 - 30_000).toISOString()) }, { spec: spec('v', 100, new Date(T0 - 1_000).toISOString()) }];
  assert.deepEqual(unplacedTasks(unbound, T0, 20_000).map((t) => t.spec.id), ['u']);
});
