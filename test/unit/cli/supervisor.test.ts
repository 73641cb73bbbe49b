// The supervisor runs at most one instance of a component: when only the watchdog dies and the
// component outlives it, the restart first kills that stray instance (the reconciler and the
// scheduler share one leader identity across restarts, so two instances would both lead).
// Real child processes (sh + node), no root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { silentLogger } from '../../../lib/index.ts';
import { Supervisor, strayInstance } from '../../../cli/up/supervisor.ts';
import { waitFor } from '../../helpers/agent.ts';

/** running: alive and not a zombie (an orphan killed here may wait a moment for its reaper). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('strayInstance: the pid file names a live process with exactly this command line, or nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-stray-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pidFile = join(dir, 'x.pid');
  assert.equal(strayInstance(pidFile, [process.execPath]), undefined, 'no pid file');
  const argv = readFileSync('/proc/self/cmdline', 'utf8').split('\0').slice(0, -1);
  await writeFile(pidFile, `${process.pid}\n`);
  assert.equal(strayInstance(pidFile, argv), process.pid, 'this very process');
  assert.equal(strayInstance(pidFile, [...argv, 'more']), undefined, 'another command line: a reused pid');
  await writeFile(pidFile, 'garbage');
  assert.equal(strayInstance(pidFile, argv), undefined);
});

test('a component whose watchdog alone was killed is killed before its restart: one instance at a time', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-supervisor-'));
  const marker = `gitcell-supervisor-test-${randomBytes(4).toString('hex')}`;
  const sup = new Supervisor({
    name: 'comp',
    // Deaf to SIGTERM (the orphaned watchdog's pipe reader sends one): only the supervisor's SIGKILL ends it.
    args: ['-e', "process.on('SIGTERM', () => {}); console.log(['sigterm', 'ignored'].join(' ')); setInterval(() => {}, 1 << 30)", marker],
    logFile: join(dir, 'comp.log'),
    pidDir: join(dir, 'pids'),
    stopGraceMs: 1_000,
    log: silentLogger(),
  });
  const pids: number[] = [];
  t.after(async () => {
    await sup.stop();
    for (const pid of pids) if (running(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  sup.start();
  const first = await waitFor('the component running and deaf to SIGTERM, its pid in the pid file', () => {
    const pid = strayInstance(sup.pidFile, [process.execPath, ...sup.o.args]);
    return pid !== undefined && running(pid) && readFileSync(sup.o.logFile, 'utf8').includes('sigterm ignored') ? pid : undefined;
  }, 20_000);
  pids.push(first);
  const watchdog = sup.pid!;
  process.kill(watchdog, 'SIGKILL'); // the watchdog only: the component lives on, orphaned
  const second = await waitFor('a restarted instance', () => {
    const pid = strayInstance(sup.pidFile, [process.execPath, ...sup.o.args]);
    return pid !== undefined && pid !== first && running(pid) ? pid : undefined;
  }, 20_000);
  pids.push(second);
  assert.ok(!running(first), `the first instance (pid ${first}) was killed before the second started`);
  assert.equal(sup.restarts, 1);
});
