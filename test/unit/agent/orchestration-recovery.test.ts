// The agent after a store rebuild, on the in-memory runtime against a real nats-server. A fresh key
// prefix stands for the rebuilt store (empty buckets) and a new incarnation name tells the agent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startNatsServer, type NatsServer } from '../../helpers/nats.ts';
import { makeTask } from '../../helpers/agent.ts';
import { MEMORY_IMAGE, startMemoryNode, type MemoryNode } from '../../helpers/memory-node.ts';
import { waitFor } from '../../helpers/wait.ts';
import { readJournal } from '../../../agent/journal.ts';

let server: NatsServer;
let n: MemoryNode;
before(async () => {
  server = await startNatsServer();
});
after(async () => {
  await n?.close();
  await server?.stop();
});

const IMAGE = MEMORY_IMAGE;
const incarnation = async () => (await readFile(join(n.stateDir, 'store-incarnation'), 'utf8')).trim();

test('after a store rebuild running tasks are held, reported unclaimed, until a binding decides or the hold ends', async () => {
  n = await startMemoryNode(server, { storeIncarnation: 'inc-1', recoveryHoldMs: 120_000 });
  const here = makeTask('keep-here', IMAGE, ['serve']);
  const there = makeTask('moved-away', IMAGE, ['serve']);
  const nobody = makeTask('unclaimed', IMAGE, ['serve']);
  const done = makeTask('batch-done', IMAGE, ['work'], {}, 'batch');
  n.runtime.behave(done.id, { exitAfterMs: 10, exitCode: 0 });
  for (const t of [here, there, nobody, done]) await n.bind(t);
  const before = new Map<string, string | undefined>();
  for (const t of [here, there, nobody]) before.set(t.id, (await n.waitStatus(t.id, 'running', (x) => x.state === 'running')).containerId);
  await n.waitStatus(done.id, 'succeeded', (x) => x.state === 'succeeded');
  assert.equal(await incarnation(), 'inc-1');

  // NATS lost its data: the agent comes back to an empty store of another incarnation.
  await n.restart({ prefix: 'rebuilt1_', options: { storeIncarnation: 'inc-2' } });
  for (const t of [here, there, nobody]) {
    const s = await n.waitStatus(t.id, 'held and re-reported', (x) => x.unclaimed === true && x.state === 'running');
    assert.equal(s.containerId, before.get(t.id), 'the same container keeps running');
  }
  const finished = await n.waitStatus(done.id, 'finished batch re-reported', (x) => x.unclaimed === true);
  assert.equal(finished.state, 'succeeded', 'a finished batch task is reported, not run again');
  assert.equal(n.runtime.starts(done.id), 1);
  assert.equal(await incarnation(), 'inc-1', 'the new incarnation is recorded only once nothing is held');

  // Bindings decide: here keeps its container, elsewhere stops it.
  await n.bind(here);
  await n.bind(there, 'some-other-node');
  await n.bind(done);
  const kept = await n.waitStatus(here.id, 'claimed here', (x) => x.unclaimed === undefined && x.state === 'running');
  assert.equal(kept.containerId, before.get(here.id));
  await waitFor('moved-away stopped and forgotten', async () => !(await n.status(there.id)) && n.runtime.running(there.id).length === 0);
  await n.waitStatus(done.id, 'claimed finished batch', (x) => x.unclaimed === undefined && x.state === 'succeeded');
  const still = await n.status(nobody.id);
  assert.equal(still?.unclaimed, true, 'a task nobody claimed stays held while the hold lasts');
  assert.equal(still?.containerId, before.get(nobody.id));
  for (const t of [here, nobody]) assert.equal(n.runtime.starts(t.id), 1, `${t.id}: never restarted`);

  // Restarted mid-recovery (incarnation not yet recorded), it holds again; this time the hold ends soon.
  await n.restart({ options: { recoveryHoldMs: 300 } });
  await waitFor('the unclaimed task stopped once the hold ended', async () => !(await n.status(nobody.id)) && n.runtime.running(nobody.id).length === 0);
  await waitFor('incarnation recorded once nothing is held', async () => (await incarnation()) === 'inc-2');
  const last = await n.status(here.id);
  assert.equal(last?.state, 'running');
  assert.equal(last?.containerId, before.get(here.id), 'the claimed task ran through both restarts');
  assert.equal(last?.unclaimed, undefined);
});

test('after a store rebuild, a binding that arrives before its task spec does not stop the held container', async () => {
  const m = await startMemoryNode(server, { storeIncarnation: 'inc-1', recoveryHoldMs: 120_000 });
  try {
    const spec = makeTask('early-binding', IMAGE, ['serve']);
    await m.bind(spec);
    const first = await m.waitStatus(spec.id, 'running', (x) => x.state === 'running');
    await m.restart({ prefix: 'rebuilt2_', options: { storeIncarnation: 'inc-2' } });
    await m.waitStatus(spec.id, 'held', (x) => x.unclaimed === true && x.state === 'running');
    // The binding alone (its spec is on another watch, not there yet); then a marker task, bound after
    // it on the same watch: once the marker runs, the agent has seen the first binding and passed.
    await m.store.bindings.put(spec.id, { taskId: spec.id, node: m.node, boundAt: new Date().toISOString(), schedulerTerm: 1 });
    const marker = makeTask('marker', IMAGE, ['serve']);
    await m.bind(marker);
    await m.waitStatus(marker.id, 'running', (x) => x.state === 'running');
    await m.store.tasks.put(spec.id, spec);
    const claimed = await m.waitStatus(spec.id, 'claimed', (x) => x.unclaimed === undefined && x.state === 'running');
    assert.equal(claimed.containerId, first.containerId, 'the held container kept running');
    assert.equal(m.runtime.starts(spec.id), 1, 'never stopped and started again');
  } finally {
    await m.close();
  }
});

test('after a store rebuild, a finished batch task is released by its binding alone and filed as completed again', async () => {
  const m = await startMemoryNode(server, { storeIncarnation: 'inc-1', recoveryHoldMs: 120_000 });
  try {
    const done = makeTask('batch-filed', IMAGE, ['work'], {}, 'batch');
    m.runtime.behave(done.id, { exitAfterMs: 10, exitCode: 0 });
    await m.bind(done);
    await m.waitStatus(done.id, 'succeeded', (x) => x.state === 'succeeded');
    await m.unbind(done.id);
    await waitFor('filed as completed', () => readJournal(join(m.stateDir, 'completed')).has(done.id));
    await m.restart({ prefix: 'rebuilt3_', options: { storeIncarnation: 'inc-2' } });
    await m.waitStatus(done.id, 'held and re-reported', (x) => x.unclaimed === true && x.state === 'succeeded');
    assert.equal(readJournal(join(m.stateDir, 'completed')).has(done.id), false, 'held: back in the task journal');
    // The rebuilt control plane bound it back, and the Job (complete) deleted its task before this
    // agent's next pass: the binding is all the agent saw of it. Nothing runs, so nothing to keep.
    await m.store.bindings.put(done.id, { taskId: done.id, node: m.node, boundAt: new Date().toISOString(), schedulerTerm: 1 });
    await waitFor('filed as completed again, long before the 120-s hold ends', () => readJournal(join(m.stateDir, 'completed')).has(done.id), 15_000);
    assert.equal(m.runtime.starts(done.id), 1, 'not run again');
  } finally {
    await m.close();
  }
});

test('after a store rebuild, a held task whose re-created spec is deleted before any binding is let go: a finished batch task filed as completed again, a running one stopped', async () => {
  const m = await startMemoryNode(server, { storeIncarnation: 'inc-1', recoveryHoldMs: 120_000 });
  try {
    const done = makeTask('batch-unbound', IMAGE, ['work'], {}, 'batch');
    const gone = makeTask('spec-gone', IMAGE, ['serve']);
    m.runtime.behave(done.id, { exitAfterMs: 10, exitCode: 0 });
    for (const t of [done, gone]) await m.bind(t);
    await m.waitStatus(done.id, 'succeeded', (x) => x.state === 'succeeded');
    await m.waitStatus(gone.id, 'running', (x) => x.state === 'running');
    await m.unbind(done.id);
    await waitFor('filed as completed', () => readJournal(join(m.stateDir, 'completed')).has(done.id));
    await m.restart({ prefix: 'rebuilt4_', options: { storeIncarnation: 'inc-2' } });
    await m.waitStatus(done.id, 'held and re-reported', (x) => x.unclaimed === true && x.state === 'succeeded');
    await m.waitStatus(gone.id, 'held and re-reported', (x) => x.unclaimed === true && x.state === 'running');
    // The rebuilt reconciler re-creates both tasks under their ids (adopted from the unclaimed
    // reports) and deletes them again before any scheduler bound them: the batch Job is Complete from
    // the held task's report (its tasks go), the other's Job was removed from Git meanwhile. No
    // binding ever comes (e2e/up's NATS-wipe drill, its scheduler restarting after the reconciler).
    for (const t of [done, gone]) await m.store.tasks.put(t.id, t);
    for (const t of [done, gone]) await m.store.tasks.delete(t.id);
    await waitFor('filed as completed again, long before the 120-s hold ends', () => readJournal(join(m.stateDir, 'completed')).has(done.id), 15_000);
    await waitFor('the running task whose spec went stopped, long before the hold ends', () => m.runtime.running(gone.id).length === 0, 15_000);
    assert.equal(m.runtime.starts(done.id), 1, 'not run again');
  } finally {
    await m.close();
  }
});
