// Preemption rules, table-driven: who may evict whom, and which node and victims cost least.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canPreempt, schedule } from '../../../scheduler/index.ts';
import { Cluster, Gi, MakeNode, MakeTask } from './builders.ts';
import { FilterInsufficientCpu } from '../../../scheduler/index.ts';

// Bands (api/manifests.ts): best-effort 0..99, batch 100..299, production 300..699, monitoring 700..1000.
const ruleCases: [number, number, boolean, string][] = [
  [200, 50, true, 'batch evicts best-effort'],
  [150, 149, true, 'strictly lower within batch'],
  [150, 150, false, 'equal priority never'],
  [100, 200, false, 'higher priority never'],
  [400, 250, true, 'production evicts batch'],
  [500, 400, false, 'production never evicts production'],
  [900, 400, false, 'monitoring never evicts production'],
  [900, 800, false, 'monitoring never evicts monitoring'],
  [900, 299, true, 'monitoring evicts batch'],
];
for (const [preemptor, victim, allowed, name] of ruleCases) {
  test(`canPreempt: ${name} (${preemptor} over ${victim})`, () => assert.equal(canPreempt(preemptor, victim), allowed));
}

// Every node is 4000m / 16 GiB; the pending task needs 2000m unless stated.
interface Case {
  name: string;
  nodes: string[];
  running: ReturnType<ReturnType<typeof MakeTask>['Running']>[];
  task: ReturnType<typeof MakeTask>;
  node: string | null;
  victims: string[];
}
const cases: Case[] = [
  {
    name: 'evicts the one low task that makes room',
    nodes: ['a'],
    running: [MakeTask('low-0').Priority(50).Req(3000, 1 * Gi).Running('a')],
    task: MakeTask('hi-0').Priority(200).Req(2000, 1 * Gi),
    node: 'a',
    victims: ['low-0'],
  },
  {
    name: 'never an equal-priority task',
    nodes: ['a'],
    running: [MakeTask('peer-0').Priority(200).Req(3000, 1 * Gi).Running('a')],
    task: MakeTask('hi-0').Priority(200).Req(2000, 1 * Gi),
    node: null,
    victims: [],
  },
  {
    name: 'production never preempts production',
    nodes: ['a'],
    running: [MakeTask('prod-0').Priority(300).Req(3000, 1 * Gi).Running('a')],
    task: MakeTask('prod2-0').Priority(650).Req(2000, 1 * Gi),
    node: null,
    victims: [],
  },
  {
    // a needs two victims (1500m + 1500m used of 4000m -> 1000m free; one victim frees 2500m), b one.
    name: 'fewest victims wins',
    nodes: ['a', 'b'],
    running: [
      MakeTask('x-0').Priority(10).Req(1500, 1 * Gi).Running('a'),
      MakeTask('x-1').Priority(10).Req(1500, 1 * Gi).Running('a'),
      MakeTask('y-0').Priority(60).Req(3500, 1 * Gi).Running('b'),
    ],
    task: MakeTask('hi-0').Priority(200).Req(3000, 1 * Gi),
    node: 'b',
    victims: ['y-0'],
  },
  {
    name: 'same count: lowest priority victim wins',
    nodes: ['a', 'b'],
    running: [MakeTask('mid-0').Priority(150).Req(3000, 1 * Gi).Running('a'), MakeTask('low-0').Priority(20).Req(3000, 1 * Gi).Running('b')],
    task: MakeTask('hi-0').Priority(250).Req(2000, 1 * Gi),
    node: 'b',
    victims: ['low-0'],
  },
  {
    // 4 tasks of 900m: 400m free; needs 2000m -> evict 2 (lowest first: p5, p6); reprieve keeps the rest.
    name: 'lowest priorities go first and no more than needed',
    nodes: ['a'],
    running: [
      MakeTask('p-0').Priority(5).Req(900, 1 * Gi).Running('a'),
      MakeTask('q-0').Priority(6).Req(900, 1 * Gi).Running('a'),
      MakeTask('r-0').Priority(7).Req(900, 1 * Gi).Running('a'),
      MakeTask('s-0').Priority(8).Req(900, 1 * Gi).Running('a'),
    ],
    task: MakeTask('hi-0').Priority(200).Req(2000, 1 * Gi),
    node: 'a',
    victims: ['p-0', 'q-0'],
  },
  {
    // greedy takes p (100m, useless alone) then q (3000m); reprieve gives p back.
    name: 'reprieve spares a victim that was not needed',
    nodes: ['a'],
    running: [MakeTask('p-0').Priority(5).Req(100, 1 * Gi).Running('a'), MakeTask('q-0').Priority(6).Req(3000, 1 * Gi).Running('a')],
    task: MakeTask('hi-0').Priority(200).Req(2500, 1 * Gi),
    node: 'a',
    victims: ['q-0'],
  },
  {
    name: 'host port holder must go, if lower',
    nodes: ['a'],
    running: [MakeTask('port-0').Priority(50).HostPort(80).Running('a')],
    task: MakeTask('hi-0').Priority(200).HostPort(80),
    node: 'a',
    victims: ['port-0'],
  },
  {
    name: 'no preemption across an unresolvable filter (selector)',
    nodes: ['a'],
    running: [MakeTask('low-0').Priority(1).Req(4000, 1 * Gi).Running('a')],
    task: MakeTask('hi-0').Priority(200).Selector('disk', 'ssd'),
    node: null,
    victims: [],
  },
  {
    name: 'DaemonSet task preempts on its own node only',
    nodes: ['a', 'b'],
    running: [MakeTask('low-0').Priority(1).Req(4000, 1 * Gi).Running('a'), MakeTask('low-1').Priority(1).Req(4000, 1 * Gi).Running('b')],
    task: MakeTask('ds-0').Priority(800).OnNode('b'),
    node: 'b',
    victims: ['low-1'],
  },
];

for (const c of cases) {
  test(`preemption: ${c.name}`, () => {
    const r = schedule(Cluster(c.nodes.map((n) => MakeNode(n).Obj()), c.running), [c.task.Obj()], { seed: 1 });
    assert.equal(r.placements[0]?.node ?? null, c.node, r.unplaced[0]?.message);
    assert.deepEqual(r.preemptions.map((p) => p.taskId).sort(), [...c.victims].sort());
    if (c.node) assert.deepEqual([...(r.placements[0]!.victims ?? [])].sort(), [...c.victims].sort());
    for (const p of r.preemptions) assert.ok(canPreempt(p.preemptorPriority, p.priority));
  });
}

test('preemption: disabled by option', () => {
  const running = [MakeTask('low-0').Priority(50).Req(4000, 1 * Gi).Running('a')];
  const r = schedule(Cluster([MakeNode('a').Obj()], running), [MakeTask('hi-0').Priority(200).Obj()], { seed: 1, preemption: false });
  assert.equal(r.placements.length, 0);
  assert.equal(r.unplaced[0]!.message, `0/1 nodes fit: 1 ${FilterInsufficientCpu}`);
});

test('preemption: a failed search is named in the message', () => {
  const running = [MakeTask('low-0').Priority(50).Req(1000, 1 * Gi).Running('a')];
  const r = schedule(Cluster([MakeNode('a').Obj()], running), [MakeTask('hi-0').Priority(200).Req(5000, 1 * Gi).Obj()], { seed: 1 });
  assert.equal(r.unplaced[0]!.message, `0/1 nodes fit: 1 ${FilterInsufficientCpu}; preemption: no node where evicting lower-priority tasks makes room`);
});
