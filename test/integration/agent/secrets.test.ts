// Secrets on the node: values re-sealed to the node's own key (as the reconciler's distributor does)
// are opened by the agent and given to the task as files on a tmpfs and as environment variables.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { filesHolding } from '../../helpers/persistent.ts';
import { requireRoot, requireTools } from '../../helpers/root.ts';
import { startNatsServer, type NatsServer } from '../../helpers/nats.ts';
import { leaks, makeTask, startTestNode, waitFor, type TestNode } from '../../helpers/agent.ts';
import { sealValue } from '../../../secrets/index.ts';
import { streamLogs } from '../../../agent/index.ts';
import type { NodeSecretRecord } from '../../../api/index.ts';

requireRoot();
requireTools('runc', 'ip', 'mount');

let server: NatsServer;
let n: TestNode;
before(async () => {
  server = await startNatsServer();
  n = await startTestNode(server, { secrets: true });
});
after(async () => {
  const left = n ? await leaks(n) : [];
  await n?.close();
  await server?.stop();
  assert.deepEqual(left, []);
});

function sealedRecord(name: string, version: string, values: Record<string, string>, audience = n.node): NodeSecretRecord {
  const pem = n.keyring!.publicKeyPem();
  return {
    namespace: 'default', name, version, nodeKeyId: n.keyring!.activeKeyId,
    values: Object.fromEntries(Object.entries(values).map(([key, v]) => [key, sealValue(pem, { namespace: 'default', name, key, audience }, v)])),
  };
}

async function logOf(taskId: string): Promise<string> {
  let out = '';
  await streamLogs(n.store.nc, n.node, { taskId }, (c) => { out += Buffer.from(c).toString(); });
  return out;
}

test('the node publishes its sealing key', async () => {
  const rec = await waitFor('node record', async () => (await n.store.nodes.get(n.node))?.value);
  assert.equal(rec.sealingKey, n.keyring!.publicKeyPem());
});

test('a task gets its Secret as 0400 files on a tmpfs and as an environment variable', async () => {
  await n.secretsBucket!.put('default.db', sealedRecord('db', 'v1', { password: 's3cret', user: 'app' }));
  const spec = makeTask(`sec-${Date.now()}`, n.image, ['sh', '-c', 'cat /etc/db/password; echo; echo env=$DB_PASSWORD; stat -c %a /etc/db/password; ls /etc/db; while true; do sleep 1; done'], {
    secretMounts: [{ secretName: 'db', mountPath: '/etc/db', version: 'v1' }],
    secretEnv: [{ name: 'DB_PASSWORD', secretName: 'db', key: 'password', version: 'v1' }],
  });
  await n.bind(spec);
  await n.waitStatus(spec.id, 'running', (s) => s.state === 'running', 120_000);
  const out = await waitFor('log lines', async () => { const l = await logOf(spec.id); return l.split('\n').length >= 6 ? l : undefined; });
  assert.equal(out, 's3cret\nenv=s3cret\n400\npassword\nuser\n');
  // On the node the files live on a tmpfs, never on disk.
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  const dir = `${n.dir}/state/secret-volumes/${spec.id}`;
  assert.ok(mounts.split('\n').some((l) => l.split(' ')[1] === dir && l.split(' ')[2] === 'tmpfs'), `tmpfs at ${dir}`);
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
  assert.ok(!(await readFile('/proc/self/mounts', 'utf8')).includes(dir), 'tmpfs unmounted on removal');
});

test('a Secret environment value reaches the task but no persistent file of the node (state dir, runtime root, images)', async () => {
  const value = `pw-${randomBytes(16).toString('hex')}`;
  await n.secretsBucket!.put('default.envonly', sealedRecord('envonly', 'v1', { password: value }));
  // The task prints a hash of the value: its logs are on disk on purpose.
  const spec = makeTask(`senv-${Date.now()}`, n.image, ['sh', '-c', 'printf %s "$DB_PASSWORD" | sha256sum; while true; do sleep 1; done'], {
    secretEnv: [{ name: 'DB_PASSWORD', secretName: 'envonly', key: 'password', version: 'v1' }],
  });
  await n.bind(spec);
  await n.waitStatus(spec.id, 'running', (s) => s.state === 'running', 120_000);
  const out = await waitFor('hash in log', async () => { const l = await logOf(spec.id); return l.includes('\n') ? l : undefined; });
  assert.equal(out.split(' ')[0], createHash('sha256').update(value).digest('hex'));
  assert.deepEqual(filesHolding([n.dir], value), [], `no file on disk below ${n.dir} holds the value`);
  assert.ok(filesHolding([n.dir], spec.id).length > 0, 'the walk reads the node\'s files (the journal names the task)');
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
  assert.deepEqual(filesHolding([n.dir], value), [], 'nor after the task was removed');
});

test('a Secret not yet delivered (or at another version) holds the task back with a clear message, then it starts', async () => {
  const spec = makeTask(`late-${Date.now()}`, n.image, ['sh', '-c', 'cat /run/k/token; echo; while true; do sleep 1; done'], {
    secretMounts: [{ secretName: 'late', mountPath: '/run/k', version: 'v2' }],
  });
  await n.secretsBucket!.put('default.late', sealedRecord('late', 'v1', { token: 'old' }));
  await n.bind(spec);
  const held = await n.waitStatus(spec.id, 'held back', (s) => s.state === 'backoff' && /has not reached/.test(s.message ?? ''), 90_000);
  assert.match(held.message!, /Secret default\/late version v2 has not reached node/);
  await n.secretsBucket!.put('default.late', sealedRecord('late', 'v2', { token: 'new' }));
  await n.waitStatus(spec.id, 'running', (s) => s.state === 'running', 120_000);
  await waitFor('token in log', async () => (await logOf(spec.id)) === 'new\n' || undefined);
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
});

test('a Secret arriving starts the task that waited for it at once, not after its start backoff', async (t) => {
  // A start backoff far longer than the wait below: only the Secret's arrival can start the task in
  // time. No wait before the start fails (secretWaitMs 0): this is the path of a start that failed.
  const slow = await startTestNode(server, { secrets: true, secretWaitMs: 0, backoff: { initialMs: 600_000, maxMs: 600_000, resetAfterMs: 600_000 } });
  t.after(async () => {
    const left = await leaks(slow);
    await slow.close();
    assert.deepEqual(left, []);
  });
  const spec = makeTask(`arrives-${Date.now()}`, slow.image, ['sh', '-c', 'while true; do sleep 1; done'], { secretMounts: [{ secretName: 'arrives', mountPath: '/run/k' }] });
  await slow.bind(spec);
  await slow.waitStatus(spec.id, 'held back', (s) => s.state === 'backoff' && /has not reached/.test(s.message ?? ''), 90_000);
  const pem = slow.keyring!.publicKeyPem();
  await slow.secretsBucket!.put('default.arrives', {
    namespace: 'default', name: 'arrives', version: 'v1', nodeKeyId: slow.keyring!.activeKeyId,
    values: { token: sealValue(pem, { namespace: 'default', name: 'arrives', key: 'token', audience: slow.node }, 'x') },
  });
  await slow.waitStatus(spec.id, 'running', (s) => s.state === 'running', 120_000);
  await slow.unbind(spec.id);
  await waitFor('removed', async () => !(await slow.status(spec.id)));
});

test('a start waits for a Secret on its way: it starts when the Secret arrives, without a failed attempt', async (t) => {
  // The wait far longer than the test: the task can only run because the Secret's arrival ended it.
  const waiting = await startTestNode(server, { secrets: true, secretWaitMs: 600_000 });
  t.after(async () => {
    const left = await leaks(waiting);
    await waiting.close();
    assert.deepEqual(left, []);
  });
  const spec = makeTask(`coming-${Date.now()}`, waiting.image, ['sh', '-c', 'while true; do sleep 1; done'], { secretMounts: [{ secretName: 'coming', mountPath: '/run/k' }] });
  await waiting.bind(spec);
  await waiting.waitStatus(spec.id, 'waiting for its Secret', (s) => s.state === 'pending' && /waiting for Secret default\/coming to reach this node/.test(s.message ?? ''), 90_000);
  const pem = waiting.keyring!.publicKeyPem();
  await waiting.secretsBucket!.put('default.coming', {
    namespace: 'default', name: 'coming', version: 'v1', nodeKeyId: waiting.keyring!.activeKeyId,
    values: { token: sealValue(pem, { namespace: 'default', name: 'coming', key: 'token', audience: waiting.node }, 'x') },
  });
  const running = await waiting.waitStatus(spec.id, 'running', (s) => s.state === 'running', 120_000);
  assert.equal(running.restarts, 0);
  assert.doesNotMatch(running.message ?? '', /start failed/);
  await waiting.unbind(spec.id);
  await waitFor('removed', async () => !(await waiting.status(spec.id)));
});

test('a value sealed for another node does not open here', async () => {
  await n.secretsBucket!.put('default.other', sealedRecord('other', 'v1', { k: 'v' }, 'some-other-node'));
  const spec = makeTask(`other-${Date.now()}`, n.image, ['sh', '-c', 'sleep 100'], { secretMounts: [{ secretName: 'other', mountPath: '/s', version: 'v1' }] });
  await n.bind(spec);
  const s = await n.waitStatus(spec.id, 'refused', (x) => x.state === 'backoff' && /cannot be opened/.test(x.message ?? ''), 90_000);
  assert.match(s.message!, /Secret default\/other: value "k" cannot be opened/);
  await n.unbind(spec.id);
  await waitFor('removed', async () => !(await n.status(spec.id)));
});
