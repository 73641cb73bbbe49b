// Convergence passes gather (agent/convergence.ts): many kicks make few passes, a pass over the tasks
// a kick named decides for them what a pass over the whole node would, and no change is lost; a quick
// first start writes one status (two when it waits for an image pull).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTask } from '../../helpers/agent.ts';
import { MEMORY_IMAGE, memoryNodeForFile, uid } from '../../helpers/memory-node.ts';
import { waitFor } from '../../helpers/wait.ts';
import { PassScope } from '../../../agent/convergence.ts';

// A resync an hour away: every pass below comes from a kick (a binding, a spec, an operation's end).
const n = await memoryNodeForFile({ resyncMs: 3_600_000, runtime: { startDelayMs: 30 } });

/** passes is how many convergence passes the agent has completed (its pass-duration histogram's count). */
async function passes(): Promise<number> {
  const m = await n.agent.metrics.passes.get();
  return m.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
}

test('PassScope: named tasks gather, a kick naming none widens to the whole node, take starts afresh', () => {
  const s = new PassScope();
  s.add('a');
  s.add('b');
  s.add('a');
  assert.deepEqual([...(s.take() ?? ['whole node'])], ['a', 'b']);
  assert.deepEqual([...(s.take() ?? ['whole node'])], [], 'taken once');
  s.add('a');
  s.add();
  s.add('c');
  assert.equal(s.take(), undefined, 'the whole node');
  s.restore(new Set(['x']));
  s.add('y');
  assert.deepEqual([...(s.take() ?? ['whole node'])], ['x', 'y'], 'a failed pass gives its tasks back');
  s.restore(undefined);
  assert.equal(s.take(), undefined, 'a failed pass over the whole node gives the whole node back');
});

test('30 tasks bound at once start once each in fewer passes than tasks (no more passes than kicks)', async () => {
  const specs = Array.from({ length: 30 }, (_, i) => makeTask(`burst-${i}-${uid()}`, MEMORY_IMAGE, ['serve']));
  const before = await passes();
  // Each binding and each start's end kicks: 30 + 30 kicks, gathered into passes by the debounce.
  await Promise.all(specs.map((s) => n.bind(s)));
  for (const s of specs) await n.waitStatus(s.id, 'running', (x) => x.state === 'running');
  const used = (await passes()) - before;
  // The per-state gauge is counted at the scrape, from the journal.
  const metrics = await n.agent.metrics.registry.metrics();
  // Cleaned up before the checks: a failure here must not leave 30 tasks to the tests after it.
  await Promise.all(specs.map((s) => n.unbind(s.id)));
  await waitFor('all forgotten', async () => n.agent.tasks().length === 0 && (await n.runtime.list()).length === 0, 30_000);
  for (const s of specs) assert.equal(n.runtime.starts(s.id), 1, `${s.id} started once`);
  // How many kicks share a pass depends on how the bindings arrive (one NATS message per event-loop
  // turn on a quiet machine, many on a busy one): the bound is one pass per kick (30 binds + 30
  // ends), never more.
  assert.ok(used <= 2 * specs.length, `${used} passes for ${specs.length} tasks`);
  assert.match(metrics, /gitcell_agent_tasks\{state="running"[^}]*\} 30\n/);
});

test('a start that leaves its task running makes no pass of its own: tasks bound one after another take one pass each', async () => {
  const specs = Array.from({ length: 3 }, (_, i) => makeTask(`one-pass-${i}-${uid()}`, MEMORY_IMAGE, ['serve']));
  const before = await passes();
  for (const s of specs) {
    await n.bind(s);
    await n.waitStatus(s.id, 'running', (x) => x.state === 'running');
  }
  const used = (await passes()) - before;
  await Promise.all(specs.map((s) => n.unbind(s.id)));
  await waitFor('all forgotten', async () => n.agent.tasks().length === 0 && (await n.runtime.list()).length === 0, 30_000);
  // Before: the binding's pass, then one more at the end of each start (5 or 6 for 3 tasks).
  assert.ok(used <= specs.length, `${used} passes for ${specs.length} tasks bound one after another`);
});

test('a new template that arrives while the task is busy starting is not lost: the end of the start kicks it again', async () => {
  const spec = makeTask(`busy-${uid()}`, MEMORY_IMAGE, ['serve']);
  n.runtime.behave(spec.id, { startDelayMs: 400 });
  await n.bind(spec);
  await waitFor('starting', async () => n.agent.tasks().some((t) => t.taskId === spec.id && t.phase === 'starting'), 10_000);
  // The pass this put kicks skips the task (its start holds the lock); nothing else kicks it later.
  const next = { ...spec, templateHash: `${spec.templateHash}-v2`, template: { ...spec.template, args: ['--v2'] } };
  await n.store.tasks.put(spec.id, next);
  const s = await n.waitStatus(spec.id, 'running the new template', (x) => x.state === 'running' && x.templateHash === next.templateHash);
  assert.deepEqual(n.runtime.running(spec.id), [s.containerId]);
  assert.equal(n.runtime.peakRunning(spec.id), 1);
  await n.unbind(spec.id);
  await waitFor('forgotten', async () => !n.agent.tasks().some((t) => t.taskId === spec.id), 30_000);
});

test('a first start reports one status (running) however long it takes, and pending first while it waits for an image pull', async () => {
  const slowImage = `localhost/memory-slow-pull-${uid()}:test`;
  n.runtime.pullDelay(slowImage, 1500);
  const quick = makeTask(`quick-${uid()}`, MEMORY_IMAGE, ['serve']);
  const slow = makeTask(`slow-${uid()}`, MEMORY_IMAGE, ['serve']);
  const pulling = makeTask(`pulling-${uid()}`, slowImage, ['serve']);
  n.runtime.behave(slow.id, { startDelayMs: 1500 });
  const quickHistory = n.statusHistory(quick.id, 'running', (x) => x.state === 'running');
  const slowHistory = n.statusHistory(slow.id, 'running', (x) => x.state === 'running');
  const pullHistory = n.statusHistory(pulling.id, 'running', (x) => x.state === 'running');
  await n.bind(quick);
  await n.bind(slow);
  await n.bind(pulling);
  assert.deepEqual((await quickHistory).map((x) => x.state), ['running']);
  assert.deepEqual((await slowHistory).map((x) => x.state), ['running']);
  assert.deepEqual((await pullHistory).map((x) => [x.state, x.message]), [['pending', `pulling image ${slowImage}`], ['running', undefined]]);
  for (const s of [quick, slow, pulling]) await n.unbind(s.id);
  await waitFor('forgotten', async () => n.agent.tasks().length === 0, 30_000);
});
