/**
 * Ctrl-C of `gitcell up` while its agents' process is crashed (kill -9) and held down by its hold
 * file, every node's tasks still running: `up` starts that process once more, stopping from the
 * start (GITCELL_STOP_AT_ONCE), its agents adopt their tasks and remove them, and nothing of the
 * cluster is left on the machine. (A single hosted agent held down: the SIGINT step of up.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/index.ts';
import { connectFromOptions, openClusterStore } from '../../../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../../../reconciler/index.ts';
import { waitFor } from '../../helpers/agent.ts';
import { BIN, interruptUp, leftovers, logTails, removeLeftovers, unmountBelow, webSettled, reserveSubnetBase } from '../../helpers/up.ts';

const UP_TIMEOUT = 300_000;

test('Ctrl-C with the agents\' process killed and held down: it is started once more, stops every task, nothing left', { timeout: 10 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (runc, netns, bridges, cgroups)');
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-held-'));
  let up: ChildProcess | undefined;
  let output = '';
  t.after(async () => {
    if (up && up.exitCode === null && up.signalCode === null) await interruptUp(up);
    const left = leftovers(stateDir);
    if (left.length) process.stderr.write(`e2e held: left behind (after hook), removing:\n${left.join('\n')}\n`);
    if (left.length) removeLeftovers(stateDir);
    // For diagnosing a failure: GITCELL_E2E_KEEP_LOGS=DIR keeps the components' logs there.
    if (process.env.GITCELL_E2E_KEEP_LOGS && existsSync(join(stateDir, 'logs'))) cpSync(join(stateDir, 'logs'), process.env.GITCELL_E2E_KEEP_LOGS, { recursive: true });
    unmountBelow(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  });
  const dump = () => logTails(stateDir, output);

  up = spawn(process.execPath, [BIN, 'up', '--cluster-dir', stateDir, '--nodes', '2', '--no-view', '--subnet-base', reserveSubnetBase(t, 100, 50)], { stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const startedAt = Date.now();
  await waitFor('gitcell up to print where things are', () => output.includes('npx gitcell get tasks --cluster-dir'), UP_TIMEOUT);
  const nc = await connectFromOptions({ stateDir, name: 'e2e-held' });
  try {
    const s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { log: silentLogger() });
    await waitFor('web 3/3 running and ready', () => webSettled(s, 3), UP_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${dump()}`);
    });
  } finally {
    await nc.close();
  }
  process.stderr.write(`e2e held: web ready ${((Date.now() - startedAt) / 1000).toFixed(1)} s after starting gitcell up\n`);
  const running = leftovers(stateDir);
  for (const node of ['node-1', 'node-2']) assert.ok(running.some((l) => l.startsWith(`runc containers of ${node}:`)), `${node} runs containers before the kill`);

  // Every agent dies at once and stays down: their tasks keep running, nobody to stop them.
  const pids = join(stateDir, 'pids');
  writeFileSync(join(pids, 'agents.hold'), '');
  process.kill(Number(readFileSync(join(pids, 'agents.pid'), 'utf8').trim()), 'SIGKILL');
  await waitFor('the agents\' process held down', () => output.includes('"msg":"agents held down until its hold file is removed"'), 60_000).catch((err) => {
    throw new Error(`${(err as Error).message}\n${dump()}`);
  });
  assert.ok(leftovers(stateDir).some((l) => l.startsWith('runc containers of')), 'the tasks outlive their agents');

  const interruptedAt = Date.now();
  const code = await interruptUp(up);
  assert.equal(code, 0, `gitcell up exit code\n${dump()}`);
  process.stderr.write(`e2e held: gitcell up stopped ${((Date.now() - interruptedAt) / 1000).toFixed(1)} s after Ctrl-C\n`);
  // Once, though up stops the agents first and then every component.
  assert.equal(output.split('agents is down: starting it once more to stop it cleanly').length - 1, 1, dump());
  assert.deepEqual(leftovers(stateDir), [], dump());
});
