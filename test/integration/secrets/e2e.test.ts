/**
 * Issue 8 end to end, with every real part in one process: nats-server, the reconciler service (with
 * the cluster key ring and the secret distributor), the scheduler service, and a node agent running
 * runc + CNI. A Secret is sealed, committed and mounted; the task proves it read the right value by
 * printing only its SHA-256. Then: no plaintext in the Git history, the store's files on disk, any
 * component log, any task log or any event; and rotating the value replaces exactly the task that
 * mounts it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { pino } from 'pino';
import { connect, openClusterStore } from '../../../store/index.ts';
import { Keyring, sealValue } from '../../../secrets/index.ts';
import { runSecretDistributor, type DesiredRecord, type SyncRecord } from '../../../reconciler/index.ts';
import { createSource } from '../../../reconciler/source/index.ts';
import { startReconcilerService } from '../../../reconciler/service/index.ts';
import { SchedulerService } from '../../../scheduler/index.ts';
import { startNatsServer } from '../../helpers/nats.ts';
import { makeRepo } from '../../helpers/git-cli-repo.ts';
import { startTestNode, waitFor, leaks } from '../../helpers/agent.ts';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** filesUnder lists every regular file below `dir`, skipping mount points (the secret tmpfs). */
function filesUnder(dir: string, skip: (path: string) => boolean = () => false): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (skip(path)) continue;
    const st = statSync(path, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory()) out.push(...filesUnder(path, skip));
    else if (st.isFile()) out.push(path);
  }
  return out;
}

function job(name: string, image: string, command: string, secret?: string): string {
  return dump({
    apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name, namespace: 'default' },
    spec: {
      type: 'service', replicas: 1, priority: 'production', owner: 'e2e',
      template: {
        image, command: ['sh', '-c', command],
        resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
        ...(secret ? { secretMounts: [{ secretName: secret, mountPath: '/run/secrets/db' }] } : {}),
        terminationGracePeriodSeconds: 1,
      },
      strategy: { maxUnavailable: 1, maxSurge: 1, progressDeadlineSeconds: 600 },
    },
  });
}

test('seal, commit, mount: the task reads its Secret; no plaintext anywhere; rotation replaces exactly its tasks', { timeout: 15 * 60_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'this test needs root (runc, CNI, tmpfs)');
  const server = await startNatsServer({ t });
  const prefix = `e${randomBytes(3).toString('hex')}_`;
  const node = await startTestNode(server, { prefix, secrets: true });
  t.after(() => node.close());
  const nc = await connect({ servers: server.url });
  t.after(() => nc.close());
  const work = mkdtempSync(join(tmpdir(), 'gitcell-secrets-e2e-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  // Every component logs at debug level into files we search afterwards.
  const logFile = join(work, 'components.log');
  const log = pino({ level: 'debug' }, pino.destination({ dest: logFile, sync: true }));
  const store = await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix, log });
  const keyring = await Keyring.open(join(work, 'cluster'), { modulusLength: 2048 });
  const seal = (value: string) =>
    dump({ apiVersion: 'gitcell.io/v1', kind: 'Secret', metadata: { name: 'db', namespace: 'default' }, spec: { encryptedData: { password: sealValue(keyring.publicKeyPem(), { namespace: 'default', name: 'db', key: 'password' }, value) } } });

  const first = `pw-${randomBytes(12).toString('hex')}`;
  const second = `pw-${randomBytes(12).toString('hex')}`;
  const repo = makeRepo();
  t.after(() => repo.cleanup());
  repo.commit({
    'secrets/db.yaml': seal(first),
    // The reader prints the hash of what it reads, never the value.
    'jobs/reader.yaml': job('reader', node.image, 'sha256sum /run/secrets/db/password; exec sleep 3600', 'db'),
    'jobs/plain.yaml': job('plain', node.image, 'exec sleep 3600'),
  }, 'reader with a sealed Secret, and a plain job');

  const source = createSource({ repo: repo.dir, branch: 'main' }, log);
  const reconciler = await startReconcilerService({
    store, source, leaseMs: 1500, log, sealingKeys: (id) => keyring.privateKey(id),
    whileLeading: (ctx) => runSecretDistributor({ store, keyring, signal: ctx.signal, log }).done,
  });
  t.after(() => reconciler.stop());
  const scheduler = new SchedulerService(store as never, { leaderElection: false, log });
  scheduler.start();
  t.after(() => scheduler.stop());

  const running = async (job: string) => {
    const tasks = (await store.tasks.list()).filter((r) => r.value.owner.name === job);
    if (tasks.length !== 1) return undefined;
    const s = await node.status(tasks[0]!.key);
    return s?.state === 'running' ? s : undefined;
  };
  const logsOfNode = () => filesUnder(node.dir, (p) => p.includes('secret-volumes')).filter((f) => /log/.test(f)).map((f) => readFileSync(f, 'utf8')).join('\n');

  const diagnose = async () => JSON.stringify({
    sync: (await store.sync.list()).map((r) => ({ key: r.key, problems: (r.value as { problems?: unknown }).problems, conditions: (r.value as { conditions?: unknown }).conditions })),
    tasks: (await store.tasks.list()).map((r) => r.key),
    bindings: (await store.bindings.list()).map((r) => `${r.key}->${r.value.node}`),
    statuses: (await store.status.list()).map((r) => `${r.key}: ${r.value.state} ${r.value.message ?? ''}`),
    nodes: (await store.nodes.list()).map((r) => `${r.key} key=${Boolean(r.value.sealingKey)}`),
    events: (await store.events.recent({ limit: 20 })).map((e) => `${e.value.reason}: ${e.value.message}`),
  }, null, 1);
  const reader1 = await waitFor('reader running', () => running('reader'), 240_000).catch(async (err) => {
    throw new Error(`${(err as Error).message}\n${await diagnose()}`);
  });
  const plain1 = await waitFor('plain running', () => running('plain'), 300_000);
  await waitFor('reader printed the hash of the first value', () => logsOfNode().includes(sha256(first)), 120_000);

  // Rotation: a new sealed value in Git replaces the reader's task; the plain task is untouched.
  repo.commit({ 'secrets/db.yaml': seal(second) }, 'rotate the db password');
  const reader2 = await waitFor('a new reader task running', async () => {
    const s = await running('reader');
    return s && s.taskId !== reader1.taskId ? s : undefined;
  }, 300_000);
  await waitFor('reader printed the hash of the second value', () => logsOfNode().includes(sha256(second)), 120_000);
  const plain2 = await running('plain');
  assert.ok(plain2, 'plain still running');
  assert.equal(plain2.taskId, plain1.taskId, 'the task without the Secret was not replaced');
  assert.equal(plain2.containerId, plain1.containerId);
  assert.equal(plain2.restarts, 0);
  assert.notEqual(reader2.taskId, reader1.taskId);

  // No plaintext: Git history, the store's files on disk, component and task logs, events.
  const history = execFileSync('git', ['-C', repo.dir, 'log', '-p', '--all'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const storeFiles = filesUnder(server.dir).map((f) => readFileSync(f));
  const events = JSON.stringify(await store.events.recent({ limit: 10_000 }));
  const componentLogs = readFileSync(logFile, 'utf8');
  assert.ok(componentLogs.length > 0 && storeFiles.length > 0 && events.length > 2 && history.includes('encryptedData'));
  for (const value of [first, second]) {
    assert.ok(!history.includes(value), 'plaintext in the Git history');
    assert.ok(!storeFiles.some((b) => b.includes(value)), 'plaintext in the store\'s files');
    assert.ok(!componentLogs.includes(value), 'plaintext in a component log');
    assert.ok(!logsOfNode().includes(value), 'plaintext in a task or agent log');
    assert.ok(!events.includes(value), 'plaintext in an event');
  }

  await reconciler.stop();
  await scheduler.stop();
  for (const id of [reader2.taskId, plain2.taskId]) await node.unbind(id);
  // Removing the tasks leaves nothing behind: containers, mounts (the Secret tmpfs too), netns, IPs.
  let left: string[] = [];
  await waitFor('the node to clean up after its tasks', async () => ((left = await leaks(node)).length === 0 ? true : undefined), 120_000).catch((err) => {
    throw new Error(`${(err as Error).message}: ${left.join(', ')}`);
  });
});
