import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { sealValue } from '../../../secrets/index.ts';
import { dump } from 'js-yaml';
import type { AnyObject, Job } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { loadManifestsFromGit, reconcileRevision, toValidatedRevision, validateManifests, withRepoDefaults } from '../../../reconciler/index.ts';
import { makeRepo } from '../../helpers/git-cli-repo.ts';
import { startGitHttpServer } from '../../helpers/git-http.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeRecord } from './sim.ts';
import { openTestStore } from '../../helpers/store.ts';

function job(name: string, image: string, replicas: number, cpu = '100m'): Job {
  return {
    apiVersion: 'gitcell.io/v1',
    kind: 'Job',
    metadata: { name, namespace: 'default' },
    spec: { type: 'service', replicas, priority: 'production', template: { image, resources: { requests: { cpu, memory: '64Mi' } } }, strategy: { maxSurge: 1, maxUnavailable: 1 } },
  };
}
// Real sealed values (the validator checks the sealed format), to a throwaway 2048-bit key.
const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const sealed = (plaintext: string) => sealValue(publicKey, { namespace: 'default', name: 'db', key: 'password' }, plaintext);
const SEALED_1 = sealed('hunter2');
const SEALED_2 = sealed('hunter3');
const secret = (password: string): AnyObject => ({ apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, spec: { encryptedData: { password } } }) as AnyObject;
const y = (o: AnyObject) => dump(o);

/** gitcell runs the CLI as a user would, without blocking this process's event loop. */
function gitcell(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['cli/bin.js', ...args], { env: { ...process.env, GITCELL_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function makePlanRepo() {
  const repo = makeRepo();
  // 3 x 100m of web, 1 of api, a Secret.
  repo.commit({ 'web.yaml': y(job('web', 'web:1', 3)), 'api.yaml': y(job('api', 'api:1', 1)), 'db.yaml': y(secret(SEALED_1)) }, 'base');
  repo.git('checkout', '--quiet', '-b', 'feature');
  // web: new image; api: gone; big: asks for 64 CPUs, more than any node has; db: new password.
  repo.commit({ 'web.yaml': y(job('web', 'web:2', 3)), 'api.yaml': null, 'big.yaml': y(job('big', 'big:1', 1, '64')), 'db.yaml': y(secret(SEALED_2)) }, 'feature');
  repo.git('checkout', '--quiet', 'main');
  return repo;
}

test('plan --base shows the exact create/change/prune set and rollout steps, never a Secret value', async (t) => {
  const repo = makePlanRepo();
  t.after(() => repo.cleanup());
  const r = await gitcell('plan', '--repo', repo.dir, '--ref', 'feature', '--base', 'main', '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout);
  assert.deepEqual(p.create.map((c: { key: string }) => c.key), ['Job/default/big']);
  assert.deepEqual(p.update.map((c: { key: string }) => c.key), ['Secret/default/db', 'Job/default/web']);
  assert.deepEqual(p.prune.map((c: { key: string }) => c.key), ['Job/default/api']);
  const web = p.update.find((u: { key: string }) => u.key === 'Job/default/web');
  assert.deepEqual(web.changes, [{ path: 'spec.template.image', op: 'replace', from: 'web:1', to: 'web:2' }]);
  const db = p.update.find((u: { key: string }) => u.key === 'Secret/default/db');
  assert.deepEqual(db.changes, [{ path: 'spec.encryptedData.password', op: 'replace', from: '(redacted)', to: '(redacted)' }]);
  assert.ok(!r.stdout.includes(SEALED_1.slice(0, 24)) && !r.stdout.includes(SEALED_2.slice(0, 24)), 'no Secret value in the output');
  const steps = Object.fromEntries(p.rollout.map((s: { key: string; action: string }) => [s.key, s.action]));
  assert.deepEqual(steps, { 'Job/default/api': 'delete', 'Job/default/big': 'create', 'Job/default/web': 'rolling-update' });
  // 3 replicas, surge 1, unavailable 1: stop 1 / start 2, then stop 2 / start 1 -> 2 waves.
  const rolling = p.rollout.find((s: { key: string }) => s.key === 'Job/default/web');
  assert.deepEqual(rolling.waves.map((w: { start: number; stop: number }) => [w.start, w.stop]), [[2, 1], [1, 2]]);

  const md = await gitcell('plan', '--repo', repo.dir, '--ref', 'feature', '--base', 'main', '--format', 'markdown');
  assert.equal(md.code, 0);
  assert.match(md.stdout, /^### gitcell plan for feature \([0-9a-f]{12}\) against main/);
  assert.match(md.stdout, /\*\*1 to create, 2 to change, 1 to prune, 0 unchanged\*\*/);
  assert.match(md.stdout, /\| :pencil2: \| `Job\/default\/web` \| `spec\.template\.image: web:1 -> web:2` \|/);
  assert.ok(!md.stdout.includes(SEALED_1.slice(0, 24)) && !md.stdout.includes(SEALED_2.slice(0, 24)));

  const bad = await gitcell('plan', '--repo', repo.dir, '--ref', 'nope', '--base', 'main');
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /nope: no such branch, tag or commit/);
  assert.ok(!bad.stderr.includes('    at '), 'no stack trace');
});

test('plan against the live cluster previews scheduling: a task that would not fit', async (t) => {
  const repo = makePlanRepo();
  t.after(() => repo.cleanup());
  const { server, prefix, store } = await openTestStore(t, { tag: 'p' });
  // Simulated agents heartbeat like real ones, so the nodes stay live however slow the machine is.
  const beat = () => Promise.all(['n1', 'n2'].map((n) => store.nodes.put(n, nodeRecord(n))));
  await beat();
  const heartbeat = setInterval(() => void beat().catch(() => undefined), 2000);
  t.after(() => clearInterval(heartbeat));
  const main = repo.git('rev-parse', 'main');
  const out = await reconcileRevision({
    store,
    source: 'main',
    revision: main,
    read: () => loadManifestsFromGit({ dir: repo.dir, ref: main }),
    validate: (load) => toValidatedRevision(validateManifests(load)),
    log: silentLogger(),
  });
  assert.equal(out.result, 'Applied');

  const r = await gitcell('plan', '--repo', repo.dir, '--ref', 'feature', '--nats', server.url, '--prefix', prefix, '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout);
  assert.deepEqual(p.create.map((c: { key: string }) => c.key), ['Job/default/big']);
  assert.deepEqual(p.prune.map((c: { key: string }) => c.key), ['Job/default/api']);
  // New tasks: 3 of web:2 and 1 of big; big asks 64 CPUs of nodes with 4.
  assert.equal(p.scheduling.nodes, 2);
  assert.equal(p.scheduling.placed, 3, JSON.stringify(p.scheduling));
  assert.equal(p.scheduling.unplaced.length, 1);
  assert.equal(p.scheduling.unplaced[0].jobKey, 'Job/default/big');
  assert.match(p.scheduling.unplaced[0].message, /0\/2 nodes/);

  const text = await gitcell('plan', '--repo', repo.dir, '--ref', 'feature', '--nats', server.url, '--prefix', prefix);
  assert.match(text.stdout, /WOULD NOT FIT: plan-big-0 \(Job\/default\/big\)/);
});

test('plan --repo URL fetches the branches from a git http-backend remote', async (t) => {
  const git = await startGitHttpServer({ auth: { username: 'ci', password: 'pw' } });
  t.after(() => git.close());
  const url = git.createBareRepo('cluster');
  const repo = makePlanRepo();
  t.after(() => repo.cleanup());
  repo.git('remote', 'add', 'origin', url.replace('http://', 'http://ci:pw@'));
  await repo.gitAsync('push', '--quiet', 'origin', 'main', 'feature');
  const stateDir = mkdtempSync(join(tmpdir(), 'gitcell-plan-'));
  t.after(() => rmSync(stateDir, { recursive: true, force: true }));
  writeFileSync(join(stateDir, 'creds.yaml'), 'username: ci\npassword: pw\n');
  const r = await gitcell('plan', '--repo', url, '--ref', 'feature', '--base', 'main', '--cluster-dir', stateDir, '--credentials-file', join(stateDir, 'creds.yaml'), '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout);
  assert.equal(p.ref.commit, repo.git('rev-parse', 'feature'));
  assert.deepEqual([p.create.length, p.update.length, p.prune.length], [1, 2, 1]);
});

test('.gitcell.yaml resource defaults: a task without resources gets them, per namespace too; plan shows them and the desired record holds them', async (t) => {
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  const bare = (name: string, namespace: string): Job => ({ apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name, namespace }, spec: { type: 'service', template: { image: `${name}:1` } } });
  const own = job('own', 'own:1', 1, '250m'); // requests cpu 250m, memory 64Mi: kept; only the missing limits are filled
  repo.commit({ 'a.yaml': y(bare('a', 'default')), 'b.yaml': y(bare('b', 'batch')), 'own.yaml': y(own) }, 'no defaults');
  repo.git('checkout', '--quiet', '-b', 'feature');
  repo.commit({ '.gitcell.yaml': [
    'defaults:',
    '  resources: { requests: { cpu: 100m, memory: 64Mi }, limits: { cpu: "1", memory: 256Mi } }',
    '  namespaces:',
    '    batch: { resources: { limits: { memory: 1Gi } } }',
    '',
  ].join('\n') }, 'defaults');
  const r = await gitcell('plan', '--repo', repo.dir, '--ref', 'feature', '--base', 'main', '--format', 'json');
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout);
  const changes = Object.fromEntries(p.update.map((u: { key: string; changes: unknown[] }) => [u.key, u.changes]));
  assert.deepEqual(changes['Job/default/a'], [{ path: 'spec.template.resources', op: 'add', to: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } } }]);
  assert.deepEqual(changes['Job/batch/b'], [{ path: 'spec.template.resources', op: 'add', to: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '1Gi' } } }]);
  assert.deepEqual(changes['Job/default/own'], [{ path: 'spec.template.resources.limits', op: 'add', to: { cpu: '1', memory: '256Mi' } }]);

  // The reconciler's validate phase does the same: the desired record carries the defaults.
  const { store } = await openTestStore(t, { tag: 'd' });
  const feature = repo.git('rev-parse', 'feature');
  const out = await reconcileRevision({
    store, source: 'main', revision: feature,
    read: () => loadManifestsFromGit({ dir: repo.dir, ref: feature }),
    validate: (load) => withRepoDefaults(toValidatedRevision(validateManifests(load)), { gitdir: join(repo.dir, '.git'), commit: feature }),
    log: silentLogger(),
  });
  assert.equal(out.result, 'Applied');
  const rec = (await store.desired.list()).map((e) => e.value).find((d) => d.key === 'Job/default/a');
  assert.deepEqual((rec?.object as Job).spec.template.resources, { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } });

  // A bad quantity in the settings fails the revision, naming file and field.
  repo.commit({ '.gitcell.yaml': 'defaults:\n  resources: { limits: { memory: lots } }\n' }, 'bad defaults');
  const bad = await gitcell('plan', '--repo', repo.dir, '--ref', 'feature', '--base', 'main', '--format', 'json');
  assert.equal(bad.code, 1);
  const problems = (JSON.parse(bad.stdout) as { problems: { file: string; code: string; message: string }[] }).problems;
  assert.deepEqual(problems.map((x) => `${x.file} ${x.code}`), ['.gitcell.yaml E_BAD_SETTINGS']);
  assert.match(problems[0]!.message, /^\.gitcell\.yaml: field "defaults\.resources\.limits\.memory" is not a quantity: "lots"/);
});
