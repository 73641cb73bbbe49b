/**
 * `gitcell up` killed with SIGKILL (it cannot clean up itself): its watchdogs end NATS and every
 * component, each agent stops and removes its tasks, and then every process ends and nothing of the
 * cluster is left on the machine (processes, runc containers, mounts, netns, bridges, cgroups,
 * including the cluster's cgroup parent `gitcell/up-<tag>`), within a deadline.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../lib/index.ts';
import { connectFromOptions, openClusterStore } from '../../../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../../../reconciler/index.ts';
import { waitFor } from '../../helpers/agent.ts';
import { BIN, leftovers, logTails, unmountBelow, webSettled, reserveSubnetBase } from '../../helpers/up.ts';

const UP_TIMEOUT = 300_000;
/** Agents stop their tasks (5 s grace), give up on the gone NATS (bounded), exit: well within this. */
const CLEANUP_DEADLINE_MS = 120_000;

/** pidsOf lists the processes whose command line names `stateDir`. */
function pidsOf(stateDir: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(stateDir);
    } catch {
      return false;
    }
  });
}

test('kill -9 of gitcell up: every process ends and nothing is left behind', { timeout: 10 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (runc, netns, bridges, cgroups)');
  const stateDir = await mkdtemp(join(tmpdir(), 'gitcell-e2e-kill-'));
  let up: ChildProcess | undefined;
  let output = '';
  t.after(async () => {
    // Whatever a failure left: no process, mount or directory of this test outlives it.
    for (const pid of pidsOf(stateDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    unmountBelow(stateDir);
    await rm(stateDir, { recursive: true, force: true });
  });

  up = spawn(process.execPath, [BIN, 'up', '--cluster-dir', stateDir, '--nodes', '2', '--no-view', '--subnet-base', reserveSubnetBase(t, 100, 50)], { stdio: ['ignore', 'pipe', 'pipe'] });
  up.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  up.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => up!.once('exit', () => r()));
  await waitFor('gitcell up to print where things are', () => output.includes('npx gitcell get tasks --cluster-dir'), UP_TIMEOUT);
  const nc = await connectFromOptions({ stateDir, name: 'e2e-kill' });
  try {
    const s = await openClusterStore<DesiredRecord, SyncRecord>(nc, { log: silentLogger() });
    // Running tasks: containers, mounts, netns, bridges and cgroups exist to be cleaned up.
    await waitFor('web 3/3 running and ready', () => webSettled(s, 3), UP_TIMEOUT).catch((err) => {
      throw new Error(`${(err as Error).message}\n${logTails(stateDir, output)}`);
    });
  } finally {
    await nc.close();
  }
  assert.ok(leftovers(stateDir).some((l) => l.startsWith('cgroups:')), 'the cluster has cgroups while it runs');

  up.kill('SIGKILL');
  await exited;
  const killedAt = Date.now();
  const left = await waitFor('nothing of the cluster left', () => (leftovers(stateDir).length === 0 ? true : undefined), CLEANUP_DEADLINE_MS).catch(() => leftovers(stateDir));
  assert.equal(left, true, `left ${Math.round((Date.now() - killedAt) / 1000)} s after kill -9 of gitcell up:\n${left === true ? '' : left.join('\n')}\n${logTails(stateDir, output)}`);
  process.stderr.write(`e2e kill -9: everything gone ${((Date.now() - killedAt) / 1000).toFixed(1)} s after kill -9 of gitcell up\n`);
});
