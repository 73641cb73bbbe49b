// The DaemonSets' eligible nodes kept between passes (reconciler/apply/eligible-nodes.ts) against the
// full computation (every node trusted, given its NodeSpec and judged at `now`), after random
// changes of records, leases, NodeSpecs, templates, the grace and the clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trustedNodeRecords, withNodeSpec, RESERVED_LABEL_PREFIX, type NodeRecord, type NodeSpec, type Toleration } from '../../../api/index.ts';
import { eligibleNodeNames, type PlacementRules } from '../../../reconciler/controllers/index.ts';
import { EligibleNodeIndex } from '../../../reconciler/apply/eligible-nodes.ts';
import { T0, node } from './builders.ts';
import { Rng } from './rng.ts';

const NAMES = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
const reserved = `${RESERVED_LABEL_PREFIX}pool`;
const RULES: PlacementRules[] = [
  { nodeSelector: {}, tolerations: [] },
  { nodeSelector: { disk: 'ssd' }, tolerations: [] },
  { nodeSelector: { [reserved]: 'a' }, tolerations: [{ key: 'gpu', operator: 'Exists' } as Toleration] },
  { nodeSelector: {}, tolerations: [{ operator: 'Exists' } as Toleration] },
];

/** World is the joined node view as NodeInformer shows it, the NodeSpecs, and the index following their told changes. */
class World {
  readonly nodes = new Map<string, NodeRecord>();
  readonly specs = new Map<string, NodeSpec>();
  readonly index = new EligibleNodeIndex({ nodes: this.nodes, specOf: (n) => this.specs.get(n) });
  now = T0;
  grace = 40_000;
  constructor(private readonly r: Rng, private readonly tell: boolean) {}

  /** step makes one random change; told ones reach the index as NodeInformer and the NodeSpec informer tell them. */
  step(): void {
    const { r } = this;
    const name = r.pick(NAMES);
    const cur = this.nodes.get(name);
    const told = (): void => {
      if (this.tell) this.index.nodeChanged(name);
    };
    switch (r.int(9)) {
      case 0: // a record written: labels, taints, a forged name now and then
        this.nodes.set(name, node(r.chance(0.1) ? 'n9' : name, {
          labels: r.chance(0.5) ? { disk: 'ssd', [reserved]: 'a' } : { disk: 'hdd' },
          taints: r.chance(0.3) ? [{ key: 'gpu', effect: r.pick(['NoSchedule', 'PreferNoSchedule'] as const) }] : [],
          heartbeatAt: new Date(this.now - r.int(50_000)).toISOString(),
        }));
        return told();
      case 1:
        this.nodes.delete(name);
        return told();
      case 2:
      case 3: // a renewal: the heartbeat moves forward, nobody is told
        if (cur) this.nodes.set(name, { ...cur, heartbeatAt: new Date(Math.max(Date.parse(cur.heartbeatAt), this.now - r.int(5_000))).toISOString() });
        return;
      case 4: // the lease goes (the record's own, older heartbeat counts again), or a heartbeat moves back: told
        if (cur) this.nodes.set(name, { ...cur, heartbeatAt: new Date(Date.parse(cur.heartbeatAt) - r.int(60_000)).toISOString() });
        return told();
      case 5:
        if (r.chance(0.5)) this.specs.set(name, { cordoned: false, draining: false, labels: r.chance(0.5) ? { [reserved]: 'a' } : {}, taints: r.chance(0.3) ? [{ key: 'gpu', effect: 'NoExecute' }] : [] });
        else this.specs.delete(name);
        return told();
      case 6:
        this.now += r.chance(0.2) ? r.int(60_000) : r.int(3_000);
        return;
      case 7:
        if (r.chance(0.1)) this.grace = r.pick([40_000, 60_000]);
        if (r.chance(0.05)) this.index.invalidate();
        return;
      default:
        this.now += r.int(1_000);
    }
  }

  full(rules: PlacementRules): string[] {
    const placed = [...trustedNodeRecords(this.nodes).nodes.values()].map((n) => withNodeSpec(n, this.specs.get(n.name)));
    return eligibleNodeNames(placed, rules, this.now, this.grace);
  }
}

/** drive runs random steps and passes; returns the first pass where the index and the full computation differ. */
function drive(seed: number, tell: boolean): string | undefined {
  const r = new Rng(seed);
  const w = new World(r, tell);
  const templates = new Map<string, PlacementRules>([['DaemonSet/a/x', RULES[0]!], ['DaemonSet/a/y', RULES[1]!]]);
  for (let pass = 0; pass < 150; pass++) {
    for (let k = r.int(4); k >= 0; k--) w.step();
    // A DaemonSet's template changes (a copy: a new object with the same rules must be the same verdicts), or one goes and comes back.
    if (r.chance(0.1)) templates.set(r.pick(['DaemonSet/a/x', 'DaemonSet/a/y']), structuredClone(r.pick(RULES)));
    const asked = r.chance(0.1) ? [...templates].slice(1) : [...templates];
    w.index.begin(w.now, w.grace);
    for (const [key, rules] of asked) {
      const want = w.full(rules);
      const got = w.index.eligible(key, rules);
      const has = NAMES.concat('n9').filter((n) => got.has(n));
      if (JSON.stringify(got.names) !== JSON.stringify(want) || JSON.stringify(has) !== JSON.stringify(want)) {
        return `seed ${seed} pass ${pass} ${key}: index ${JSON.stringify(got.names)} (has ${JSON.stringify(has)}), full ${JSON.stringify(want)}`;
      }
    }
  }
  return undefined;
}

test('EligibleNodeIndex equals the full computation after any sequence of changes and clock steps', () => {
  for (let seed = 1; seed <= 300; seed++) assert.equal(drive(seed, true), undefined);
});

test('the comparison catches an index that misses changes (the test above can fail)', () => {
  let caught = 0;
  for (let seed = 1; seed <= 50; seed++) if (drive(seed, false) !== undefined) caught++;
  assert.ok(caught >= 40, `only ${caught} of 50 runs noticed the untold changes`);
});
