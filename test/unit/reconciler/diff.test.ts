import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnyObject, Job, Secret } from '../../../api/index.ts';
import { objectKey } from '../../../api/index.ts';
import {
  applyPlanToRecords,
  nextDesiredRecord,
  objectHash,
  planDiff,
  planIsEmpty,
  REDACTED,
  type DesiredRecord,
} from '../../../reconciler/diff/index.ts';
import { Rng } from './rng.ts';

const NOW = '2026-01-01T00:00:00.000Z';
const job = (name: string, image = 'img:1', extra: Partial<Job['metadata']> = {}): Job => ({
  apiVersion: 'gitcell.io/v1',
  kind: 'Job',
  metadata: { name, namespace: 'default', ...extra },
  spec: { type: 'service', replicas: 2, template: { image } },
});
const secret = (name: string, data: Record<string, string>): Secret => ({
  apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name, namespace: 'default' }, spec: { encryptedData: data },
});
const crd = (plural: string): AnyObject => ({
  apiVersion: 'gitcell.io/v1', kind: 'CustomResourceDefinition', metadata: { name: plural },
  spec: { group: 'example.com', names: { kind: 'Db', plural }, versions: [{ name: 'v1', schema: { openAPIV3Schema: {} } }] },
});
const records = (objects: AnyObject[], revision = 'r1'): DesiredRecord[] =>
  objects.map((o) => nextDesiredRecord(undefined, o, { type: 'git', revision }, NOW));

test('planDiff sorts creates by stage: CRDs, then Secrets, then workloads', () => {
  const plan = planDiff([job('web'), secret('db', { p: 'x' }), { apiVersion: 'example.com/v1', kind: 'Db', metadata: { name: 'main' } }, crd('dbs')], []);
  assert.deepEqual(plan.create.map((c) => `${c.stage}:${c.key}`), [
    'definitions:CustomResourceDefinition/default/dbs',
    'secrets:Secret/default/db',
    'workloads:Db/default/main',
    'workloads:Job/default/web',
  ]);
  assert.equal(plan.refused, undefined);
});

test('planDiff gives field-level changes and hides Secret values', () => {
  const current = records([job('web', 'img:1'), secret('db', { password: 'AAA', user: 'BBB' })]);
  const plan = planDiff([job('web', 'img:2'), secret('db', { password: 'CCC', user: 'BBB', extra: 'DDD' })], current);
  assert.deepEqual(plan.update.map((u) => u.key), ['Secret/default/db', 'Job/default/web']);
  assert.deepEqual(plan.update[1]!.changes, [{ path: 'spec.template.image', op: 'replace', from: 'img:1', to: 'img:2' }]);
  assert.deepEqual(plan.update[0]!.changes, [
    { path: 'spec.encryptedData.extra', op: 'add', to: REDACTED },
    { path: 'spec.encryptedData.password', op: 'replace', from: REDACTED, to: REDACTED },
  ]);
  assert.ok(!JSON.stringify(plan.update.map((u) => u.changes)).includes('CCC'), 'no secret value in the changes');
});

test('planDiff prunes inventory objects only, in reverse stage order, honouring the opt-out annotation', () => {
  const current = [
    ...records([job('a'), job('b'), job('keep', 'img:1', { annotations: { 'gitcell.io/prune': 'disabled' } }), secret('s', { k: 'v' }), crd('dbs')]),
    // A CronJob's Job is not in the inventory: prune never touches it.
    nextDesiredRecord(undefined, job('cron-123'), { type: 'controller', owner: 'CronJob/default/cron' }, NOW),
  ];
  const plan = planDiff([job('a')], current);
  assert.deepEqual(plan.prune.map((p) => p.key), ['Job/default/b', 'Secret/default/s', 'CustomResourceDefinition/default/dbs']);
  assert.deepEqual(plan.keep.map((k) => k.key), ['Job/default/keep']);
  assert.deepEqual(plan.unchanged, ['Job/default/a']);
  assert.equal(plan.refused, undefined);
});

test('planDiff refuses a revision that would prune the whole inventory unless allowed', () => {
  const current = records([job('a'), job('b')]);
  const refused = planDiff([], current);
  assert.equal(refused.refused?.code, 'E_PRUNE_ALL');
  assert.equal(refused.prune.length, 2);
  // Nothing is applied from a refused plan.
  assert.deepEqual([...applyPlanToRecords(current, refused, 'r2', NOW).keys()].sort(), ['Job/default/a', 'Job/default/b']);
  assert.equal(planDiff([], current, { allowPruneAll: true }).refused, undefined);
  // An empty cluster and an empty revision is fine: there is nothing to prune.
  assert.equal(planDiff([], []).refused, undefined);
});

test('nextDesiredRecord bumps generation only on change', () => {
  const r1 = nextDesiredRecord(undefined, job('a'), { type: 'git', revision: 'c1' }, NOW);
  assert.equal(r1.generation, 1);
  const same = nextDesiredRecord(r1, job('a'), { type: 'git', revision: 'c2' }, 'later');
  assert.equal(same, r1);
  const r2 = nextDesiredRecord(r1, job('a', 'img:2'), { type: 'git', revision: 'c3' }, 'later');
  assert.equal(r2.generation, 2);
  assert.equal(r2.revision, 'c3');
});

// Property tests over random states: diff(S, S) is empty, and applying plan(S -> T) then diffing T
// again is empty, with the bucket holding exactly T's objects plus opted-out and controller ones.
function randomObjects(rng: Rng): AnyObject[] {
  const out = new Map<string, AnyObject>();
  const n = rng.int(12);
  for (let i = 0; i < n; i++) {
    const name = `o${rng.int(10)}`;
    const o: AnyObject = rng.chance(0.2)
      ? secret(name, { k: `v${rng.int(3)}` })
      : job(name, `img:${rng.int(3)}`, rng.chance(0.2) ? { annotations: { 'gitcell.io/prune': 'disabled' } } : {});
    out.set(objectKey(o), o);
  }
  return [...out.values()];
}

test('property: the diff of a state against itself is empty', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new Rng(seed);
    const objects = randomObjects(rng);
    const plan = planDiff(objects, records(objects));
    assert.ok(planIsEmpty(plan), `seed ${seed}`);
    assert.equal(plan.unchanged.length, objects.length, `seed ${seed}`);
  }
});

test('property: applying a plan then diffing again is empty', () => {
  for (let seed = 1; seed <= 300; seed++) {
    const rng = new Rng(seed);
    const before = randomObjects(rng);
    const after = randomObjects(rng);
    const state = records(before);
    const plan = planDiff(after, state, { allowPruneAll: true });
    const applied = applyPlanToRecords(state, plan, 'r2', NOW);
    const again = planDiff(after, applied.values(), { allowPruneAll: true });
    assert.ok(planIsEmpty(again), `seed ${seed}: ${JSON.stringify(again)}`);
    const afterKeys = new Set(after.map(objectKey));
    for (const key of applied.keys()) {
      const kept = plan.keep.some((k) => k.key === key);
      assert.ok(afterKeys.has(key) || kept, `seed ${seed}: ${key} should have been pruned`);
    }
  }
});

test('planDiff with a hash cache plans exactly as without one and hashes each object instance once', () => {
  const objects = [job('a', 'img:1'), job('b', 'img:1'), secret('s', { k: 'v' })];
  const current = records([job('a', 'img:1'), job('b', 'img:0')]);
  const hashCache = new WeakMap<AnyObject, string>();
  const plain = planDiff(objects, current);
  const cached = planDiff(objects, current, { hashCache });
  assert.deepEqual(cached, plain);
  for (const o of objects) assert.equal(hashCache.get(o), objectHash(o));
  // A cached hash is used as is: the cache is only for objects never mutated after planning.
  hashCache.set(objects[0]!, 'remembered');
  assert.equal(planDiff(objects, current, { hashCache }).update.find((u) => u.key === objectKey(objects[0]!))?.specHash, 'remembered');
});
