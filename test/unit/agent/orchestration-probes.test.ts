// Probe-driven behaviour of the agent on the in-memory runtime against a real nats-server: the
// runtime answers each probe kind from a table the test sets. Probe periods are 100 ms here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTask, probe } from '../../helpers/agent.ts';
import { MEMORY_IMAGE, memoryNodeForFile, uid } from '../../helpers/memory-node.ts';
import { waitFor } from '../../helpers/wait.ts';

const n = await memoryNodeForFile({ runtime: { startDelayMs: 10 } });

const IMAGE = MEMORY_IMAGE;
const fast = (o: Parameters<typeof probe>[0]) => probe({ periodSeconds: 0.1, exec: { command: ['check'] }, ...o });

async function cleanup(taskId: string): Promise<void> {
  await n.unbind(taskId);
  await waitFor('status removed', async () => !(await n.status(taskId)));
}

test('a failing liveness probe kills the container and the restart policy starts a new one', async () => {
  const spec = makeTask(`live-${uid()}`, IMAGE, ['serve'], { probes: { liveness: fast({ failureThreshold: 3 }) } });
  await n.bind(spec);
  const first = await n.waitStatus(spec.id, 'running', (x) => x.state === 'running');
  const history = n.statusHistory(spec.id, 'restarting after the liveness failure', (x) => x.restarts >= 1);
  n.runtime.answer(spec.id, 'liveness', false);
  const killed = (await history).at(-1)!;
  assert.equal(killed.state, 'backoff');
  assert.match(killed.message ?? '', /liveness probe failed/);
  n.runtime.answer(spec.id, 'liveness', true);
  const again = await n.waitStatus(spec.id, 'running again in a new container', (x) => x.state === 'running' && x.restarts >= 1 && x.containerId !== first.containerId);
  assert.ok(again.containerId?.endsWith(`_${again.restarts + 1}`), 'a new attempt per restart');
  assert.equal(n.runtime.peakRunning(spec.id), 1);
  const metrics = await n.agent.metrics.registry.metrics();
  assert.match(metrics, /gitcell_agent_probes_total\{[^}]*kind="liveness",result="failure"/);
  assert.match(metrics, /gitcell_agent_container_stops_total\{[^}]*reason="liveness"/);
  await cleanup(spec.id);
});

test('readiness follows its probe: unready until it passes, unready on failure, without a restart', async () => {
  const spec = makeTask(`ready-${uid()}`, IMAGE, ['serve'], { probes: { readiness: fast({ successThreshold: 2, failureThreshold: 2 }) } });
  n.runtime.answer(spec.id, 'readiness', false);
  await n.bind(spec);
  const running = await n.waitStatus(spec.id, 'running', (x) => x.state === 'running');
  assert.equal(running.ready, false, 'not ready before the readiness probe passed');
  n.runtime.answer(spec.id, 'readiness', true);
  await n.waitStatus(spec.id, 'ready', (x) => x.ready);
  n.runtime.answer(spec.id, 'readiness', false);
  const unready = await n.waitStatus(spec.id, 'unready again', (x) => !x.ready);
  assert.match(unready.message ?? '', /readiness probe/);
  assert.equal(unready.state, 'running');
  assert.equal(unready.restarts, 0, 'readiness never restarts a task');
  assert.equal(unready.containerId, running.containerId);
  await cleanup(spec.id);
});

test('a startup probe that never passes kills the container; liveness is not asked before it passes', async () => {
  const spec = makeTask(`boot-${uid()}`, IMAGE, ['serve'], { probes: { startup: fast({ failureThreshold: 3 }), liveness: fast({ failureThreshold: 1 }) } });
  n.runtime.answer(spec.id, 'startup', false);
  n.runtime.answer(spec.id, 'liveness', false);
  const history = n.statusHistory(spec.id, 'restarting after the startup failure', (x) => x.restarts >= 1);
  await n.bind(spec);
  const s = (await history).at(-1)!;
  assert.equal(s.state, 'backoff');
  assert.match(s.message ?? '', /startup probe failed/, 'killed by startup, not liveness');
  n.runtime.answer(spec.id, 'startup', true);
  n.runtime.answer(spec.id, 'liveness', true);
  await n.waitStatus(spec.id, 'running and ready once startup passes', (x) => x.state === 'running' && x.ready);
  await cleanup(spec.id);
});
