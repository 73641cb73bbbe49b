// Table-driven tests of every filter: each case is one node, one task, and the expected verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { schedule } from '../../../scheduler/index.ts';
import { Cluster, Gi, MakeNode, MakeTask, Mi } from './builders.ts';
import { filterMissingDomainLabel, FilterHostPortInUse, FilterInsufficientCpu, FilterInsufficientCpuAndMemory, FilterInsufficientMemory, FilterNodeCordoned, FilterNodeNotReady, FilterNodeSelectorMismatch, FilterSpreadPerNode, FilterUntoleratedTaint } from '../../../scheduler/index.ts';

interface Case {
  name: string;
  nodes: ReturnType<typeof MakeNode>[];
  running?: ReturnType<ReturnType<typeof MakeTask>['Running']>[];
  task: ReturnType<typeof MakeTask>;
  /** Node the task lands on, or null with the expected message. */
  node: string | null;
  message?: string;
}

const cases: Case[] = [
  // node-ready
  { name: 'ready node takes the task', nodes: [MakeNode('a')], task: MakeTask('t-0'), node: 'a' },
  { name: 'not-ready node is rejected', nodes: [MakeNode('a').NotReady()], task: MakeTask('t-0'), node: null, message: `0/1 nodes fit: 1 ${FilterNodeNotReady}` },
  { name: 'cordoned node is rejected', nodes: [MakeNode('a').Cordon()], task: MakeTask('t-0'), node: null, message: `0/1 nodes fit: 1 ${FilterNodeCordoned}` },
  // node-selector
  { name: 'selector matches label', nodes: [MakeNode('a'), MakeNode('b').Label('disk', 'ssd')], task: MakeTask('t-0').Selector('disk', 'ssd'), node: 'b' },
  { name: 'selector value differs', nodes: [MakeNode('a').Label('disk', 'hdd')], task: MakeTask('t-0').Selector('disk', 'ssd'), node: null, message: `0/1 nodes fit: 1 ${FilterNodeSelectorMismatch}` },
  // taints
  { name: 'NoSchedule taint without toleration', nodes: [MakeNode('a').Taint('gpu', 'yes')], task: MakeTask('t-0'), node: null, message: `0/1 nodes fit: 1 ${FilterUntoleratedTaint}` },
  { name: 'NoExecute taint blocks too', nodes: [MakeNode('a').Taint('gpu', 'yes', 'NoExecute')], task: MakeTask('t-0'), node: null, message: `0/1 nodes fit: 1 ${FilterUntoleratedTaint}` },
  { name: 'PreferNoSchedule never blocks', nodes: [MakeNode('a').Taint('gpu', 'yes', 'PreferNoSchedule')], task: MakeTask('t-0'), node: 'a' },
  { name: 'Equal toleration with value', nodes: [MakeNode('a').Taint('gpu', 'yes')], task: MakeTask('t-0').Tolerate({ key: 'gpu', value: 'yes' }), node: 'a' },
  { name: 'Equal toleration, other value', nodes: [MakeNode('a').Taint('gpu', 'yes')], task: MakeTask('t-0').Tolerate({ key: 'gpu', value: 'no' }), node: null, message: `0/1 nodes fit: 1 ${FilterUntoleratedTaint}` },
  { name: 'Exists toleration by key', nodes: [MakeNode('a').Taint('gpu', 'yes')], task: MakeTask('t-0').Tolerate({ key: 'gpu', operator: 'Exists' }), node: 'a' },
  { name: 'Exists without key tolerates all', nodes: [MakeNode('a').Taint('x', 'y').Taint('z', undefined)], task: MakeTask('t-0').Tolerate({ operator: 'Exists' }), node: 'a' },
  { name: 'toleration effect must match', nodes: [MakeNode('a').Taint('gpu', 'yes', 'NoExecute')], task: MakeTask('t-0').Tolerate({ key: 'gpu', operator: 'Exists', effect: 'NoSchedule' }), node: null, message: `0/1 nodes fit: 1 ${FilterUntoleratedTaint}` },
  // resources: 4000m / 16 GiB nodes
  { name: 'request equal to free fits exactly', nodes: [MakeNode('a')], task: MakeTask('t-0').Req(4000, 16 * Gi), node: 'a' },
  { name: 'cpu short by 1m', nodes: [MakeNode('a')], task: MakeTask('t-0').Req(4001, 1 * Gi), node: null, message: `0/1 nodes fit: 1 ${FilterInsufficientCpu}` },
  { name: 'memory short', nodes: [MakeNode('a').Mem(1 * Gi)], task: MakeTask('t-0').Req(100, 2 * Gi), node: null, message: `0/1 nodes fit: 1 ${FilterInsufficientMemory}` },
  { name: 'both short', nodes: [MakeNode('a').Cpu(100).Mem(1 * Gi)], task: MakeTask('t-0').Req(200, 2 * Gi), node: null, message: `0/1 nodes fit: 1 ${FilterInsufficientCpuAndMemory}` },
  {
    name: 'running tasks use capacity: 3000m used + 1500m > 4000m',
    nodes: [MakeNode('a')],
    running: [MakeTask('old-0').Req(3000, 1 * Gi).Running('a')],
    task: MakeTask('t-0').Req(1500, 1 * Gi),
    node: null,
    message: `0/1 nodes fit: 1 ${FilterInsufficientCpu}`,
  },
  { name: 'task slots (pods) full', nodes: [MakeNode('a').Tasks(1)], running: [MakeTask('old-0').Priority(500).Running('a')], task: MakeTask('t-0'), node: null },
  // host ports
  { name: 'host port in use', nodes: [MakeNode('a')], running: [MakeTask('old-0').Priority(500).HostPort(80).Running('a')], task: MakeTask('t-0').HostPort(80), node: null, message: `0/1 nodes fit: 1 ${FilterHostPortInUse}` },
  { name: 'other host port is free', nodes: [MakeNode('a')], running: [MakeTask('old-0').HostPort(81).Running('a')], task: MakeTask('t-0').HostPort(80), node: 'a' },
  // spread limit
  { name: 'maxPerNode reached', nodes: [MakeNode('a')], running: [MakeTask('web-0').Running('a')], task: MakeTask('web-1').MaxPerNode(1), node: null, message: `0/1 nodes fit: 1 ${FilterSpreadPerNode}` },
  { name: 'maxPerNode counts only the same job', nodes: [MakeNode('a')], running: [MakeTask('other-0').Running('a')], task: MakeTask('web-1').MaxPerNode(1), node: 'a' },
  {
    name: 'maxPerDomain reached in zone-a, zone-b free',
    nodes: [MakeNode('a1').Label('zone', 'a'), MakeNode('a2').Label('zone', 'a'), MakeNode('b1').Label('zone', 'b')],
    running: [MakeTask('web-0').Running('a1')],
    task: MakeTask('web-1').MaxPerDomain('zone', 1),
    node: 'b1',
  },
  {
    name: 'node lacking the domain label',
    nodes: [MakeNode('x')],
    task: MakeTask('web-0').MaxPerDomain('zone', 1),
    node: null,
    message: `0/1 nodes fit: 1 ${filterMissingDomainLabel('zone')}`,
  },
  // DaemonSet pinning
  { name: 'DaemonSet task lands on its node', nodes: [MakeNode('a'), MakeNode('b'), MakeNode('c')], task: MakeTask('ds-0').OnNode('b'), node: 'b' },
  { name: 'DaemonSet node not ready', nodes: [MakeNode('a'), MakeNode('b').NotReady()], task: MakeTask('ds-0').OnNode('b'), node: null, message: `DaemonSet task's node b does not fit: ${FilterNodeNotReady}` },
  { name: 'DaemonSet node unknown', nodes: [MakeNode('a')], task: MakeTask('ds-0').OnNode('zz'), node: null, message: "DaemonSet task's node zz is not in the cluster" },
  // mixed reasons, sorted by count
  {
    name: 'reasons counted per filter',
    nodes: [MakeNode('a').NotReady(), MakeNode('b').Label('disk', 'hdd'), MakeNode('c').Label('disk', 'ssd').Mem(64 * Mi), MakeNode('d').Label('disk', 'ssd').Mem(64 * Mi)],
    task: MakeTask('t-0').Selector('disk', 'ssd'),
    node: null,
    message: `0/4 nodes fit: 2 ${FilterInsufficientMemory}, 1 ${FilterNodeNotReady}, 1 ${FilterNodeSelectorMismatch}`,
  },
];

for (const c of cases) {
  test(`filter: ${c.name}`, () => {
    const snapshot = Cluster(c.nodes.map((n) => n.Obj()), c.running ?? []);
    const r = schedule(snapshot, [c.task.Obj()], { seed: 1 });
    if (c.node) {
      assert.equal(r.unplaced.length, 0, r.unplaced[0]?.message);
      assert.equal(r.placements[0]?.node, c.node);
    } else {
      assert.equal(r.placements.length, 0, `placed on ${r.placements[0]?.node}`);
      assert.equal(r.unplaced.length, 1);
      if (c.message) assert.equal(r.unplaced[0]!.message, c.message);
      const counted = r.unplaced[0]!.reasons.reduce((s, x) => s + x.nodes, 0);
      assert.equal(counted, c.nodes.length, 'every node is counted once');
    }
  });
}
