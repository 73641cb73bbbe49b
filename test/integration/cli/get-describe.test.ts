// `gitcell get` and `describe` driven through the binary against one cluster (real nats-server,
// real reconciler process, simulated nodes): every kind, every -o format, names, -l, -A, -w,
// REASON, Secrets hidden, user kinds by any name, curated describe, closed pipes, colour rules
// and short usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { dump } from 'js-yaml';
import { sourceStatusKey, type SyncStatus } from '../../../reconciler/index.ts';
import { BIN } from '../../helpers/up.ts';
import { waitFor } from '../../helpers/wait.ts';
import { nodeRecord } from '../reconciler/sim.ts';
import { database, fullCRD } from '../../helpers/manifests.ts';
import { job, onTerminal, run, shell, startCluster } from './client-helpers.ts';

const secret = dump({
  apiVersion: 'gitcell.io/v1',
  kind: 'Secret',
  metadata: { name: 'db-creds', namespace: 'default', annotations: { 'gitcell.io/allow-plaintext': 'true' } },
  spec: { stringData: { password: 'hunter2-very-secret', user: 'admin' } },
});
const crd = dump(fullCRD());
const orders = dump(database());

test('get and describe, as a user drives them', async (t) => {
  const c = await startCluster(
    t,
    {
      nodes: ['n1', 'n2'],
      finish: (image) =>
        image === 'report:1' ? { state: 'succeeded', exitCode: 0, finishedAt: new Date().toISOString() }
        : image === 'missing:1' ? { state: 'backoff', restarts: 3, message: 'start failed: image missing:1 is not in the local store (pull or import it first)' }
        : undefined,
    },
    {
      'web.yaml': job('web', 'web:1', { replicas: 2, labels: { app: 'web' } }),
      'report.yaml': job('report', 'report:1', { type: 'batch', completions: 3, labels: { app: 'report' } }),
      'broken.yaml': job('broken', 'missing:1'),
      'secret.yaml': secret,
      'crd.yaml': crd,
      'orders.yaml': orders,
      // broken crash-loops on purpose: no automatic revert of the commit that added everything
      '.gitcell.yaml': 'autoRollback: false\n',
    },
  );
  const f = c.flags;
  // A node with a sealing key: describe shows its fingerprint, never the PEM.
  const pem = generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
  await c.store.nodes.put('n3', { ...nodeRecord('n3'), sealingKey: pem });
  const applied = async () => ((await c.store.sync.get(sourceStatusKey('main')))?.value as SyncStatus | undefined)?.lastAppliedRevision;
  await waitFor('the first revision applied', applied, 90_000);

  await t.test('get jobs: READY, STATUS and REASON say how each job is', async () => {
    const jobs = await waitFor('report complete and web ready', async () => {
      const r = await run(['get', 'jobs', ...f]);
      return /report\s+batch\s+3\/3\s+Complete/.test(r.stdout) && /web\s+service\s+2\/2\s+Complete/.test(r.stdout) ? r : undefined;
    }, 90_000);
    assert.match(jobs.stdout, /^NAME\s+TYPE\s+READY\s+STATUS\s+REASON\s+GIT\s+CURRENT\s+AUTOSCALED\s+AGE$/m);
    assert.equal(jobs.code, 0, jobs.stderr);
    const wide = await run(['get', 'jobs', '-o', 'wide', ...f]);
    assert.match(wide.stdout, /UP-TO-DATE\s+GEN\s+REVISION/);
    const all = await run(['get', 'jobs', '-A', ...f]);
    assert.match(all.stdout, /^NAMESPACE\s+NAME/m);
    assert.match(all.stdout, /^default\s+web\s/m);
  });

  await t.test('get tasks: a task stuck on a missing image says why', async () => {
    const r = await waitFor('broken task backing off', async () => {
      const x = await run(['get', 'tasks', ...f]);
      return /ImagePullBackOff: start failed: image missing:1/.test(x.stdout) ? x : undefined;
    }, 90_000);
    assert.match(r.stdout, /broken\s+n[12]\s+backoff\s+no\s+3\s+ImagePullBackOff/);
  });

  await t.test('names, -l, and every -o format', async () => {
    const one = await run(['get', 'job', 'web', '-o', 'jsonpath={.object.metadata.name}:{.status.ready}', ...f]);
    assert.equal(one.stdout, 'web:2\n');
    const names = await run(['get', 'jobs', '-l', 'app in (web,report)', '-o', 'name', ...f]);
    assert.deepEqual(names.stdout.trim().split('\n').sort(), ['job/report', 'job/web']);
    const notReport = await run(['get', 'jobs', '-l', 'app!=report', '-o', 'name', ...f]);
    assert.deepEqual(notReport.stdout.trim().split('\n').sort(), ['job/broken', 'job/web']);
    const range = await run(['get', 'jobs', 'web', 'report', '-o', 'jsonpath={range [*]}{.object.metadata.name}{"\\n"}{end}', ...f]);
    assert.deepEqual(range.stdout.trim().split('\n').sort(), ['report', 'web']);
    const yaml = await run(['get', 'job', 'web', '-o', 'yaml', ...f]);
    assert.match(yaml.stdout, /^object:\n\s+apiVersion: gitcell.io\/v1/m);
    const json = JSON.parse((await run(['get', 'tasks', '-o', 'json', ...f])).stdout) as { spec: { jobKey: string } }[];
    assert.equal(json.filter((x) => x.spec.jobKey === 'Job/default/web').length, 2);
    const missing = await run(['get', 'jobs', 'web', 'nope', '-o', 'name', ...f]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, 'job/web\n');
    assert.match(missing.stderr, /jobs "nope" not found in namespace default/);
    const badOut = await run(['get', 'jobs', '-o', 'jsn', ...f]);
    assert.equal(badOut.code, 2);
    assert.match(badOut.stderr, /did you mean -o json\?/);
    const badSel = await run(['get', 'jobs', '-l', 'a=(b', ...f]);
    assert.equal(badSel.code, 2);
    assert.match(badSel.stderr, /-l a=\(b: unbalanced parentheses/);
  });

  await t.test('secrets: key names, never values', async () => {
    const table = await run(['get', 'secrets', ...f]);
    assert.match(table.stdout, /db-creds\s+Opaque\s+2\s+plaintext/);
    for (const o of ['json', 'yaml', 'wide']) {
      const r = await run(['get', 'secret', 'db-creds', '-o', o, ...f]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.includes('hunter2'), false, `-o ${o} shows the value`);
    }
    const d = await run(['describe', 'secret', 'db-creds', ...f]);
    assert.match(d.stdout, /password: plaintext/);
    assert.equal(d.stdout.includes('hunter2'), false);
  });

  await t.test('user kinds by kind, plural, singular or short name, case-insensitive', async () => {
    for (const name of ['Database', 'databases', 'DATABASE', 'db']) {
      const r = await run(['get', name, ...f]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^orders\s+1\s/m, name);
    }
    assert.match((await run(['get', 'crd', ...f])).stdout, /databases\s+Database\s+example.com\s+db/);
    const d = await run(['describe', 'db', 'orders', ...f]);
    assert.match(d.stdout, /engine:\s+postgres/);
    const typo = await run(['get', 'databse', ...f]);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown resource "databse" \(did you mean "database"\?\)/);
    assert.ok(typo.stderr.split('\n').length <= 4, typo.stderr);
  });

  await t.test('describe: curated, no manifest dump, no PEM, a clear not-found', async () => {
    const d = await run(['describe', 'job', 'web', ...f]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^Name:\s+web$/m);
    assert.match(d.stdout, /^Ready:\s+2\/2$/m);
    assert.match(d.stdout, /^\s+Image:\s+web:1$/m);
    assert.match(d.stdout, /^Conditions:/m);
    assert.match(d.stdout, /^Tasks \(2\):/m);
    assert.match(d.stdout, /^Events:/m);
    assert.doesNotMatch(d.stdout, /apiVersion|templateHash/);
    assert.ok(d.stdout.split('\n').length < 45, `describe job web is ${d.stdout.split('\n').length} lines`);
    const batch = await run(['describe', 'job', 'report', ...f]);
    assert.match(batch.stdout, /^Completions:\s+3\/3$/m);
    const node = await run(['describe', 'node', 'n3', ...f]);
    assert.match(node.stdout, /^Sealing key:\s+sha256:[0-9a-f]{16}/m);
    assert.doesNotMatch(node.stdout, /BEGIN PUBLIC KEY/);
    const task = JSON.parse((await run(['get', 'tasks', '-l', 'gitcell.io/job=broken', '-o', 'json', ...f])).stdout) as { spec: { id: string } }[];
    const td = await run(['describe', 'task', task[0]!.spec.id, ...f]);
    assert.match(td.stdout, /^Reason:\s+ImagePullBackOff$/m);
    for (const bad of ['no-such-task', 'a.b.c.d.e', 'x*y']) {
      const r = await run(['describe', 'task', bad, ...f]);
      assert.equal(r.code, 1, bad);
      assert.match(r.stderr, new RegExp(`task "${bad.replace(/[.*]/g, '\\$&')}" not found`));
      assert.doesNotMatch(r.stderr, /E_INVALID_KEY|    at /);
    }
    const nojob = await run(['describe', 'job', 'bad.name', ...f]);
    assert.match(nojob.stderr, /Job "bad.name" not found in namespace default/);
  });

  await t.test('a closed pipe ends a command quietly', async () => {
    const cluster = f.join(' ');
    // Every command that prints, each with enough output to fill 20 bytes: get of every built-in
    // kind that has objects here, describe, events, status, rollout history and status, schedule, validate, completion,
    // help and --version. (logs has its own in logs.test.ts.)
    const printing = [
      `describe job web ${cluster}`, `describe node n1 ${cluster}`, `get tasks -o wide ${cluster}`, `get jobs -o yaml ${cluster}`,
      `get nodes -o wide ${cluster}`, `get secrets -o json ${cluster}`, `events --limit 500 ${cluster}`,
      `status ${cluster}`, `status -o json ${cluster}`, `rollout history web ${cluster}`, `rollout status web ${cluster}`,
      `schedule --dry-run ${cluster}`, 'validate sample-repo', 'validate --format json sample-repo',
      'completion bash', 'completion zsh', 'help', 'validate --help', '--version',
      `plan --repo ${c.repo.dir} --format markdown ${cluster}`, `plan --repo ${c.repo.dir} -o json ${cluster}`,
      `secret pubkey --cluster-dir ${c.stateDir}`, `ps --root ${c.stateDir}/runtime`, `image ls --root ${c.stateDir}/runtime`,
    ];
    for (const args of printing) {
      // The exit code stays the command's own verdict (status says 1 while a job is broken): a
      // closed pipe neither kills it by a signal nor adds an error or a stack trace.
      const r = await shell(`$GITCELL ${args} | head -c 20 >/dev/null`);
      assert.ok(r.code === 0 || r.code === 1, `${args}: exit ${r.code} ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /EPIPE|write after end|^\s+at /m, args);
      // validate says its verdict on stderr; the others print nothing there
      if (!args.startsWith('validate sample-repo') && !args.startsWith('validate --format')) assert.equal(r.stderr, '', `${args} printed on stderr`);
    }
    const two = await shell(`$GITCELL describe job web ${f.join(' ')} | head -2`);
    assert.equal(two.stdout.split('\n').length, 3);
    assert.equal(two.stderr, '');
  });

  await t.test('colour only on a terminal and never with NO_COLOR', async () => {
    const tty = await onTerminal(['describe', 'job', 'broken', ...f]);
    assert.match(tty.stdout, /\x1b\[/, 'a terminal gets colour');
    const noColor = await onTerminal(['describe', 'job', 'broken', ...f], { NO_COLOR: '1' });
    assert.doesNotMatch(noColor.stdout, /\x1b\[/);
    const piped = await run(['describe', 'job', 'broken', ...f]);
    assert.doesNotMatch(piped.stdout, /\x1b\[/);
  });

  await t.test('get -w prints each object again when it changes', async () => {
    const w = spawn(process.execPath, [BIN, 'get', 'jobs', '-w', ...f], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    w.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => w.once('exit', resolve));
    t.after(async () => {
      if (w.exitCode === null) w.kill('SIGKILL');
      await exited;
    });
    await waitFor('the first listing', () => /^web\s/m.test(out), 90_000);
    c.repo.commit({ 'web.yaml': job('web', 'web:2', { replicas: 3, labels: { app: 'web' } }) }, 'web: 3 replicas');
    await waitFor('web printed again with 3 replicas', () => /^web\s+service\s+\d\/3/m.test(out), 90_000);
    assert.equal(out.match(/^NAME\s/gm)?.length, 1, 'one header');
    w.kill('SIGINT');
    assert.equal(await exited, 0);
  });

  await t.test('usage errors are short and name the closest command or flag', async () => {
    const cmd = await run(['gett', 'jobs']);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /unknown command 'gett'\n\(Did you mean get\?\)/);
    assert.ok(cmd.stderr.split('\n').length <= 4, cmd.stderr);
    const flag = await run(['get', 'jobs', '--outptu', 'json']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /Did you mean --output\?/);
    assert.ok(flag.stderr.split('\n').length <= 4, flag.stderr);
    const v = await run(['--version']);
    assert.match(v.stdout, /^gitcell \d+\.\d+\.\d+/);
  });
  assert.equal(c.stderr().includes('    at '), false, c.stderr());
});
