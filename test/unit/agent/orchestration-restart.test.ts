// The agent's restart handling on the in-memory runtime against a real nats-server: crash-loop
// backoff (100 ms doubling to 400 ms in these tests), start-failure backoff, restart policies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTask } from '../../helpers/agent.ts';
import { MEMORY_IMAGE, memoryNodeForFile, uid } from '../../helpers/memory-node.ts';
import { waitFor } from '../../helpers/wait.ts';
import type { LocalTask } from '../../../agent/index.ts';

const n = await memoryNodeForFile({ runtime: { startDelayMs: 10 } });

const IMAGE = MEMORY_IMAGE;
const entry = (taskId: string): LocalTask | undefined => n.agent.tasks().find((t) => t.taskId === taskId);

/** backoffs collects each distinct backoff delay the journal shows for a task until `until` holds. */
async function backoffs(taskId: string, until: (t: LocalTask) => boolean): Promise<number[]> {
  const seen: number[] = [];
  let lastRestartAt: number | undefined;
  await waitFor(`${taskId}: backoffs`, () => {
    const t = entry(taskId);
    if (t?.phase === 'backoff' && t.restartAt !== lastRestartAt && t.backoffMs !== undefined) {
      lastRestartAt = t.restartAt;
      seen.push(t.backoffMs);
    }
    return t !== undefined && until(t);
  }, { timeoutMs: 30_000, intervalMs: 5 });
  return seen;
}

test('a crash-looping task restarts with a delay that doubles up to the cap, each restart counted', async () => {
  const spec = makeTask(`crash-${uid()}`, IMAGE, ['crash']);
  n.runtime.behave(spec.id, { exitAfterMs: 20, exitCode: 1 });
  await n.bind(spec);
  const seen = await backoffs(spec.id, (t) => t.restarts >= 4);
  // Delays 100, 200, 400, 400: the polling may miss a short backoff, but never sees one out of order.
  assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'delays never shrink while it keeps crashing');
  assert.ok(seen.every((d) => [100, 200, 400].includes(d)), `delays from the backoff ladder: ${seen}`);
  const s = await n.waitStatus(spec.id, 'backoff at the cap', (x) => x.state === 'backoff' && x.restarts >= 4);
  assert.match(s.message ?? '', /exited with 1; restarting in 0\.4 s/);
  assert.equal(s.exitCode, 1);
  const t = entry(spec.id)!;
  assert.equal(t.backoffMs, 400, 'the cap holds after four crashes (100, 200, 400, 400)');
  // Once it stops crashing it runs on; every restart was exactly one more start.
  n.runtime.behave(spec.id, { exitAfterMs: undefined });
  const calm = await n.waitStatus(spec.id, 'running without crashing', (x) => x.state === 'running');
  assert.equal(n.runtime.starts(spec.id), calm.restarts + 1, 'one start per restart, plus the first');
  assert.equal(n.runtime.peakRunning(spec.id), 1);
  await n.unbind(spec.id);
  await waitFor('status removed', async () => !(await n.status(spec.id)));
});

test('a start that fails backs off and retries without counting a restart, then runs', async () => {
  const spec = makeTask(`nostart-${uid()}`, IMAGE, ['serve']);
  n.runtime.behave(spec.id, { failStart: 'exec: "serve": not found' });
  await n.bind(spec);
  const s = await n.waitStatus(spec.id, 'start failed', (x) => x.state === 'backoff');
  assert.match(s.message ?? '', /start failed: exec: "serve": not found/);
  assert.equal(s.restarts, 0);
  const seen = await backoffs(spec.id, () => n.runtime.starts(spec.id) >= 4);
  assert.ok(seen.length >= 2 && seen.every((d, i) => i === 0 || d >= seen[i - 1]!), `start-failure delays grow: ${seen}`);
  assert.ok(seen.includes(400) || seen.includes(200), `the delay doubled from 100 ms: ${seen}`);
  // A failed start removes its container: at most the attempt under way has one.
  const left = (await n.runtime.list()).filter((c) => c.id.startsWith(spec.id));
  assert.ok(left.length <= 1 && left.every((c) => c.status === 'created'), `only a start under way: ${JSON.stringify(left)}`);
  n.runtime.behave(spec.id, { failStart: undefined });
  const ok = await n.waitStatus(spec.id, 'running once the start works', (x) => x.state === 'running');
  assert.equal(ok.restarts, 0, 'failed starts are not restarts');
  await n.unbind(spec.id);
  await waitFor('status removed', async () => !(await n.status(spec.id)));
});

test('restart policies: Never ends failed, OnFailure retries until an exit 0 ends it succeeded', async () => {
  const never = makeTask(`never-${uid()}`, IMAGE, ['fail'], {}, 'batch');
  const onFailure = makeTask(`onfail-${uid()}`, IMAGE, ['flaky'], { restartPolicy: 'OnFailure' }, 'batch');
  n.runtime.behave(never.id, { exitAfterMs: 10, exitCode: 3 });
  n.runtime.behave(onFailure.id, { exitAfterMs: 10, exitCode: 1 });
  await n.bind(never);
  await n.bind(onFailure);
  const f = await n.waitStatus(never.id, 'failed', (x) => x.state === 'failed');
  assert.equal(f.exitCode, 3);
  assert.equal(f.restarts, 0);
  assert.equal(n.runtime.starts(never.id), 1);
  await n.waitStatus(onFailure.id, 'retried', (x) => x.restarts >= 1);
  n.runtime.behave(onFailure.id, { exitCode: 0 });
  const ok = await n.waitStatus(onFailure.id, 'succeeded', (x) => x.state === 'succeeded');
  assert.equal(ok.exitCode, 0);
  assert.ok(!(await n.network.get(onFailure.id)), 'a finished task gives its address back');
  for (const t of [never, onFailure]) await n.unbind(t.id);
  for (const t of [never, onFailure]) await waitFor('status removed', async () => !(await n.status(t.id)));
});

test('an OOM kill is reported and restarted like any crash', async () => {
  const spec = makeTask(`oom-${uid()}`, IMAGE, ['hog']);
  await n.bind(spec);
  await n.waitStatus(spec.id, 'running', (x) => x.state === 'running');
  const history = n.statusHistory(spec.id, 'running again', (x) => x.state === 'running' && x.restarts === 1);
  assert.ok(n.runtime.crash(spec.id, 137, { oomKilled: true }));
  const s = (await history).find((x) => x.state === 'backoff');
  assert.equal(s?.oomKilled, true);
  assert.equal(s?.restarts, 1);
  assert.match(s?.message ?? '', /OOM killed/);
  await n.unbind(spec.id);
  await waitFor('status removed', async () => !(await n.status(spec.id)));
});

test('a container that exits the moment it starts: the exit waits for the start to finish and is not lost', async () => {
  const spec = makeTask(`blink-${uid()}`, IMAGE, ['true'], { restartPolicy: 'Never' }, 'batch');
  // The exit lands while the start still holds the task (journaling "running"): it must wait its turn.
  n.runtime.behave(spec.id, { exitAfterMs: 0, exitCode: 0 });
  await n.bind(spec);
  const s = await n.waitStatus(spec.id, 'succeeded', (x) => x.state === 'succeeded');
  assert.equal(s.exitCode, 0);
  assert.equal(n.runtime.starts(spec.id), 1);
  await n.unbind(spec.id);
  await waitFor('status removed', async () => !(await n.status(spec.id)));
});
