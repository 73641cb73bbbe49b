// Components that cannot start fail loudly: the real CLI against a real nats-server exits non-zero
// with the error within a deadline, instead of staying up doing nothing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startNatsServer } from '../../helpers/nats.ts';
import { makeRepo } from '../../helpers/git-cli-repo.ts';
import { randomBytes } from 'node:crypto';
import { startTrustCluster } from '../../helpers/identities.ts';
import { requireRoot } from '../../helpers/root.ts';
import { connect, openClusterStore } from '../../../store/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { removeCgroupParent } from '../../../runtime/index.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
// Generous: a loaded 2-core CI machine takes tens of seconds just to start the CLI; a hang never ends.
const DEADLINE_MS = 180_000;

/** gitcell runs the CLI and resolves with its exit code and stderr; a process still up at the deadline is killed and fails the test. */
function gitcell(t: TestContext, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'cli/bin.js'), ...args], { cwd: ROOT, env: { ...process.env, GITCELL_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`gitcell ${args[0]} still running after ${DEADLINE_MS} ms (it should have exited); stderr: ${stderr}`));
    }, DEADLINE_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      res({ code, stderr });
    });
  });
}

async function setup(t: TestContext) {
  const server = await startNatsServer({ t });
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({ 'a.txt': 'a\n' });
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-state-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  const secret = join(stateDir, 'webhook-secret');
  writeFileSync(secret, 's3cret\n');
  const base = ['reconciler', '--repo', repo.dir, '--nats', server.url, '--prefix', 'sf_', '--cluster-dir', stateDir, '--webhook-secret-file', secret];
  return { server, stateDir, base };
}

test('reconciler: a --webhook-listen that is not HOST:PORT is a usage error (exit 2) before anything starts', async (t) => {
  const { base } = await setup(t);
  const r = await gitcell(t, [...base, '--webhook-listen', 'not-an-address']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--webhook-listen "not-an-address": expected HOST:PORT/);
});

test('reconciler: a webhook port in use ends the process (exit 1) with the error, closing what it opened', async (t) => {
  const { base } = await setup(t);
  const busy = createServer();
  await new Promise<void>((res) => busy.listen(0, '127.0.0.1', () => res()));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const r = await gitcell(t, [...base, '--webhook-listen', `127.0.0.1:${port}`]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`webhook cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
});

test('reconciler and scheduler: a credentials file they cannot read ends them (exit 1) naming the file', async (t) => {
  const { server, stateDir, base } = await setup(t);
  const creds = join(stateDir, 'missing.creds');
  const rec = await gitcell(t, [...base.filter((a) => a !== '--webhook-secret-file' && !a.endsWith('webhook-secret')), '--creds', creds]);
  assert.equal(rec.code, 1, rec.stderr);
  assert.match(rec.stderr, new RegExp(creds.replace(/[.]/g, '\\.')));
  const sched = await gitcell(t, ['scheduler', '--nats', server.url, '--prefix', 'sf_', '--cluster-dir', stateDir, '--creds', creds]);
  assert.equal(sched.code, 1, sched.stderr);
  assert.match(sched.stderr, new RegExp(creds.replace(/[.]/g, '\\.')));
});

test('agent: another node\'s credentials end it (exit 1) naming the node and the file, instead of retrying forever', async (t) => {
  requireRoot();
  const prefix = `sf${randomBytes(3).toString('hex')}_`;
  const c = await startTrustCluster(t, ['node-1', 'node-2'], prefix);
  // The control plane has made the buckets, so the agent gets past waiting for the store.
  const control = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile, name: 'control' });
  t.after(() => control.close());
  await openClusterStore(control, { prefix, log: silentLogger() });
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-agent-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cgroupParent = `gitcell/sf-${randomBytes(3).toString('hex')}`;
  t.after(() => { removeCgroupParent(cgroupParent); });
  const r = await gitcell(t, ['agent', '--node', 'node-2', '--nats', c.server.url, '--creds', c.seedFile({ node: 'node-1' }), '--prefix', prefix,
    '--cluster-dir', dir, '--cgroup-parent', cgroupParent, '--subnet', '10.123.7.0/24', '--capacity', 'cpu=1,memory=256Mi']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /are not node node-2's: the NATS server refused/);
  assert.match(r.stderr, new RegExp(c.seedFile({ node: 'node-1' }).replace(/[.]/g, '\\.')));
});
