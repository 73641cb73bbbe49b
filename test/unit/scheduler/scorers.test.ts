// Scorers: the maths of each one on its own with every expected value derived in a comment, then
// each scorer deciding between two nodes inside a real run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leastAllocatedScore } from '../../../scheduler/scorers/least-allocated.ts';
import { mostAllocatedScore } from '../../../scheduler/scorers/most-allocated.ts';
import { strandedFraction, strandedResourcesScore } from '../../../scheduler/scorers/stranded-resources.ts';
import { balancedResourcesScore } from '../../../scheduler/scorers/balanced-resources.ts';
import { jobSpreadScore } from '../../../scheduler/scorers/job-spread.ts';
import { imageLocalityScore } from '../../../scheduler/scorers/image-locality.ts';
import { modeOptions, schedule, type SchedulerOptions } from '../../../scheduler/index.ts';
import { Cluster, Gi, MakeNode, MakeTask, Mi } from './builders.ts';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-6, `${what}: ${actual} != ${expected}`);

const mathCases: { name: string; actual: number; expected: number }[] = [
  // 3000m of 4000m used after, 4 GiB of 16 GiB: free (0.25 + 0.75) / 2 * 100 = 50
  { name: 'least-allocated mixed', actual: leastAllocatedScore(3000, 4000, 4 * Gi, 16 * Gi), expected: 50 },
  // empty after placing a 0-request task: (1 + 1) / 2 * 100 = 100
  { name: 'least-allocated empty', actual: leastAllocatedScore(0, 4000, 0, 16 * Gi), expected: 100 },
  // 1000m of 4000m, 8 of 16 GiB: free (0.75 + 0.5) / 2 * 100 = 62.5
  { name: 'least-allocated quarter/half', actual: leastAllocatedScore(1000, 4000, 8 * Gi, 16 * Gi), expected: 62.5 },
  // used (0.75 + 0.25) / 2 * 100 = 50
  { name: 'most-allocated mixed', actual: mostAllocatedScore(3000, 4000, 4 * Gi, 16 * Gi), expected: 50 },
  // full: (1 + 1) / 2 * 100 = 100
  { name: 'most-allocated full', actual: mostAllocatedScore(4000, 4000, 16 * Gi, 16 * Gi), expected: 100 },
  // a node with no memory capacity counts that resource as full: (0.25 + 1) / 2 * 100 = 62.5
  { name: 'most-allocated zero capacity', actual: mostAllocatedScore(1000, 4000, 0, 0), expected: 62.5 },
  // free 1000m / 12 GiB, shape 4 MiB/m: usable u = min(1000, 12 GiB / 4 MiB = 3072) = 1000 m;
  // stranded memory = 12 GiB - 1000 * 4 MiB = 12288 MiB - 4000 MiB = 8288 MiB; / 16384 MiB = 0.505859375
  { name: 'stranded fraction, memory stranded', actual: strandedFraction(1000, 4000, 12 * Gi, 16 * Gi, 4 * Mi), expected: 8288 / 16384 },
  // score = 100 * (1 - 0.505859375) = 49.4140625
  { name: 'stranded score', actual: strandedResourcesScore(1000, 4000, 12 * Gi, 16 * Gi, 4 * Mi), expected: 49.4140625 },
  // free in the exact shape (1000m, 4000 MiB): nothing stranded, score 100
  { name: 'stranded none', actual: strandedResourcesScore(1000, 4000, 4000 * Mi, 16 * Gi, 4 * Mi), expected: 100 },
  // free 2000m, 1000 MiB: u = min(2000, 250) = 250 m; stranded cpu = 1750 / 4000 = 0.4375 -> 56.25
  { name: 'stranded cpu', actual: strandedResourcesScore(2000, 4000, 1000 * Mi, 16 * Gi, 4 * Mi), expected: 56.25 },
  // used 50% cpu, 30% memory: std = |0.5 - 0.3| / 2 = 0.1, (1 - 0.1) * 100 = 90
  { name: 'balanced 50/30', actual: balancedResourcesScore(2000, 4000, 0.3 * 16 * Gi, 16 * Gi), expected: 90 },
  // equal fill: std 0 -> 100
  { name: 'balanced even', actual: balancedResourcesScore(1000, 4000, 4 * Gi, 16 * Gi), expected: 100 },
  // 100 / (1 + k)
  { name: 'job spread k=0', actual: jobSpreadScore(0), expected: 100 },
  { name: 'job spread k=1', actual: jobSpreadScore(1), expected: 50 },
  { name: 'job spread k=3', actual: jobSpreadScore(3), expected: 25 },
  { name: 'image present', actual: imageLocalityScore(true), expected: 100 },
  { name: 'image absent', actual: imageLocalityScore(false), expected: 0 },
];

for (const c of mathCases) test(`scorer maths: ${c.name}`, () => close(c.actual, c.expected, c.name));

test('every scorer stays within 0..100 on extreme inputs', () => {
  const values = [0, 1, 4000, 1e12, -5];
  for (const a of values) for (const b of values) for (const c of values) for (const d of values) {
    for (const s of [leastAllocatedScore(a, b, c, d), mostAllocatedScore(a, b, c, d), balancedResourcesScore(a, b, c, d), strandedResourcesScore(a, b, c, d, 4 * Mi)]) {
      assert.ok(s >= 0 && s <= 100, `score ${s} for ${a},${b},${c},${d}`);
    }
  }
});

interface Choice {
  name: string;
  options: Partial<SchedulerOptions>;
  nodes: ReturnType<typeof MakeNode>[];
  running?: ReturnType<ReturnType<typeof MakeTask>['Running']>[];
  task: ReturnType<typeof MakeTask>;
  node: string;
  /** Expected final score, when derived. */
  score?: number;
}

const only = (w: Partial<SchedulerOptions['weights']>, packing = 0, fitWeight = 0): Partial<SchedulerOptions> => ({
  packing,
  fitWeight,
  weights: { strandedResources: 0, balancedResources: 0, jobSpread: 0, imageLocality: 0, ...w },
});

const choices: Choice[] = [
  {
    // busy: 2000m + 500m = 2500/4000 cpu, 8+1 = 9/16 GiB; idle: 500/4000, 1/16.
    // least-allocated: busy ((1-0.625) + (1-0.5625))/2*100 = 40.625, idle ((1-0.125)+(1-0.0625))/2*100 = 90.625
    name: 'spread picks the idle node',
    options: only({}, 0, 1),
    nodes: [MakeNode('busy'), MakeNode('idle')],
    running: [MakeTask('x-0').Req(2000, 8 * Gi).Running('busy')],
    task: MakeTask('t-0').Req(500, 1 * Gi),
    node: 'idle',
    score: 90.625,
  },
  {
    // most-allocated: busy (0.625 + 0.5625)/2*100 = 59.375, idle 9.375
    name: 'pack picks the busy node',
    options: only({}, 1, 1),
    nodes: [MakeNode('busy'), MakeNode('idle')],
    running: [MakeTask('x-0').Req(2000, 8 * Gi).Running('busy')],
    task: MakeTask('t-0').Req(500, 1 * Gi),
    node: 'busy',
    score: 59.375,
  },
  {
    // packing 0.5 makes least and most cancel (they sum to 100): both nodes 50, then image locality
    // decides: warm 0.5*x + 0.5*(100-x) + 1*100 over weight 2 = (50 + 100)/2 = 75
    name: 'half blend is neutral; image locality decides',
    options: only({ imageLocality: 1 }, 0.5, 1),
    nodes: [MakeNode('cold'), MakeNode('warm').Image('web:2')],
    task: MakeTask('t-0').Image('web:2'),
    node: 'warm',
    score: 75,
  },
  {
    // job spread: node a holds web-0 (k=1 -> 50), node b none (k=0 -> 100)
    name: 'job spread avoids the node holding the job',
    options: only({ jobSpread: 1 }),
    nodes: [MakeNode('a'), MakeNode('b')],
    running: [MakeTask('web-0').Running('a')],
    task: MakeTask('web-1'),
    node: 'b',
    score: 100,
  },
  {
    // balance: a is cpu-heavy (3000m, 1 GiB running); task 500m/1 GiB -> a: cpu 0.875, mem 0.125,
    // std 0.375 -> 62.5; b empty: cpu 0.125, mem 0.0625 -> std 0.03125 -> 96.875
    name: 'balance avoids the lopsided node',
    options: only({ balancedResources: 1 }),
    nodes: [MakeNode('a'), MakeNode('b')],
    running: [MakeTask('x-0').Req(3000, 1 * Gi).Running('a')],
    task: MakeTask('t-0').Req(500, 1 * Gi),
    node: 'b',
    score: 96.875,
  },
  {
    // stranded (shape = the pending task's 1000m : 4000 MiB = 4 MiB/m). a has 3000m/1 GiB used:
    // after, free 0 m and 16384-1024-4000 = 11360 MiB -> all memory stranded: 11360/16384 -> 30.66;
    // b (empty) after: free 3000m, 12384 MiB -> u = min(3000, 3096) = 3000 -> stranded 384 MiB ->
    // 100 * (1 - 384/16384) = 97.65625
    name: 'stranded-resources avoids stranding memory',
    options: only({ strandedResources: 1 }),
    nodes: [MakeNode('a'), MakeNode('b')],
    running: [MakeTask('x-0').Req(3000, 1 * Gi).Running('a')],
    task: MakeTask('t-0').Req(1000, 4000 * Mi),
    node: 'b',
    score: 97.65625,
  },
];

for (const c of choices) {
  test(`scorer choice: ${c.name}`, () => {
    const r = schedule(Cluster(c.nodes.map((n) => n.Obj()), c.running ?? []), [c.task.Obj()], { seed: 3, ...c.options });
    assert.equal(r.placements[0]?.node, c.node);
    if (c.score !== undefined) close(r.placements[0]!.score, c.score, 'final score');
  });
}

test('modes: spread uses every node, pack the fewest', () => {
  const nodes = Array.from({ length: 10 }, (_, i) => MakeNode(`n${i}`).Obj());
  const tasks = Array.from({ length: 20 }, (_, i) => MakeTask(`t${i % 4}-${i}`).Req(1000, 1 * Gi).Obj());
  const used = (mode: 'spread' | 'pack') => new Set(schedule(Cluster(nodes), tasks, modeOptions(mode, { seed: 5 })).placements.map((p) => p.node)).size;
  // 20 tasks of 1000m on 4000m nodes: at least 5 nodes; pack reaches the bound, spread touches all 10.
  assert.equal(used('pack'), 5);
  assert.equal(used('spread'), 10);
});
