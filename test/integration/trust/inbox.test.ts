// Attacks on other identities' traffic, against a real nats-server with the authorization `gitcell
// up` makes: inbox sniffing as an agent and as a client without credentials; what the viewer may do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect as rawConnect, type Msg } from '@nats-io/transport-node';
import { silentLogger } from '../../../lib/index.ts';
import { Bucket, connect, inboxPrefixFor, nodeSecretsBucket, objectCodec, openClusterStore } from '../../../store/index.ts';
import { permissionRefusal, startTrustCluster } from '../../helpers/identities.ts';
import { waitFor } from '../../helpers/wait.ts';
import { fromSeed } from '@nats-io/nkeys';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveLogs, streamLogs } from '../../../agent/index.ts';

const prefix = () => `tr${randomBytes(3).toString('hex')}_`;
const pubOf = (file: string) => fromSeed(new TextEncoder().encode(readFileSync(file, 'utf8').trim())).getPublicKey();

test('an agent cannot sniff inboxes: _INBOX.> and the control plane\'s inbox are refused, and it sees none of its traffic', async (t) => {
  const p = prefix();
  const c = await startTrustCluster(t, ['node-1', 'node-2'], p);
  const control = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile, name: 'control' });
  t.after(() => control.close());
  const store = await openClusterStore(control, { prefix: p, log: silentLogger() });

  // No identity, however trusted, may subscribe to every inbox.
  for (const who of ['control', 'viewer'] as const) {
    const nc = await c.connectAs(who);
    const refused = permissionRefusal(nc, 'subscription', '_INBOX.>');
    nc.subscribe('_INBOX.>', { callback: () => undefined });
    await refused;
  }
  const agent = await c.connectAs({ node: 'node-1' });
  const seen: Msg[] = [];
  for (const subject of ['_INBOX.>', `${inboxPrefixFor(pubOf(c.ids.controlSeedFile))}.>`, `${inboxPrefixFor(pubOf(c.ids.agentSeedFiles.get('node-2')!))}.>`, '>', '_INBOX_*.>']) {
    const refused = permissionRefusal(agent, 'subscription', subject);
    agent.subscribe(subject, { callback: (err, m) => { if (!err && m) seen.push(m); } });
    await refused;
  }
  // The control plane's reads and watches go on; the agent saw none of it.
  await store.desired.put('Secret.shop.db', { kind: 'Secret', spec: 'sealed' });
  assert.equal((await store.desired.get('Secret.shop.db'))?.value && true, true);
  const w = store.desired.watch({});
  for await (const ev of w) if (ev.type === 'synced') break;
  await w.close();
  await agent.flush();
  assert.deepEqual(seen.map((m) => m.subject), []);
});

test('a client without credentials is refused at connect (no anonymous user)', async (t) => {
  const c = await startTrustCluster(t, ['node-1'], prefix());
  await assert.rejects(rawConnect({ servers: c.server.url, timeout: 5000, reconnect: false }), /authorization/i);
  await assert.rejects(rawConnect({ servers: c.server.url, timeout: 5000, reconnect: false, user: 'anonymous', pass: 'x' }), /authorization/i);
  await assert.rejects(connect({ servers: c.server.url, timeoutMs: 5000 }), /authorization/i);
});

test('the viewer reads the cluster buckets and events but writes nothing and reads no node\'s Secrets', async (t) => {
  const p = prefix();
  const c = await startTrustCluster(t, ['node-1'], p);
  const control = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile });
  t.after(() => control.close());
  const store = await openClusterStore(control, { prefix: p, log: silentLogger() });
  await store.tasks.put('shop.web.0', { id: 'shop.web.0' } as never);
  const secrets = await Bucket.open(control, { name: nodeSecretsBucket('node-1', p) }, objectCodec());
  await secrets.put('shop.db', { sealed: 'for node-1' });

  const viewerNc = await connect({ servers: c.server.url, creds: c.ids.viewerSeedFile, name: 'viewer' });
  t.after(() => viewerNc.close());
  const viewer = await openClusterStore(viewerNc, { prefix: p, log: silentLogger(), bindOnly: true, timeoutMs: 2000 });
  assert.equal((await viewer.tasks.get('shop.web.0'))?.value.id, 'shop.web.0');
  const listed = await viewer.tasks.list();
  assert.equal(listed.length, 1);
  const denied = (err: Error) => /permission|authorization/i.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`);
  await assert.rejects(viewer.tasks.put('shop.web.1', { id: 'x' } as never), denied);
  await assert.rejects(viewer.desired.delete('anything'), denied);
  const secretsAsViewer = await Bucket.bind(viewerNc, { name: nodeSecretsBucket('node-1', p), timeoutMs: 2000 }, objectCodec());
  await assert.rejects(secretsAsViewer.get('shop.db'), denied);
  // It cannot open (create) the store as if it were the control plane either.
  await assert.rejects(openClusterStore(viewerNc, { prefix: prefix(), log: silentLogger(), timeoutMs: 2000 }), denied);
});

test('watches and request replies still work for every identity under its own inbox prefix', async (t) => {
  const p = prefix();
  const c = await startTrustCluster(t, ['node-1'], p);
  const control = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile });
  t.after(() => control.close());
  const store = await openClusterStore(control, { prefix: p, log: silentLogger() });
  const agentNc = await connect({ servers: c.server.url, creds: c.ids.agentSeedFiles.get('node-1')! });
  t.after(() => agentNc.close());
  const tasks = await Bucket.bind(agentNc, { name: `${p}tasks`, timeoutMs: 2000 }, objectCodec<{ n: number }>());
  const seen: number[] = [];
  const w = tasks.watch({});
  t.after(() => w.close());
  void (async () => {
    for await (const ev of w) if (ev.type === 'put') seen.push(ev.value.n);
  })();
  for (let n = 1; n <= 5; n++) await store.tasks.put(`t${n}`, { n } as never);
  await waitFor('the agent watch to deliver five puts', () => seen.length === 5, 30_000);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
});

test('task logs: the viewer and the control plane follow a log from its agent; another agent can neither read nor forge it', async (t) => {
  const c = await startTrustCluster(t, ['node-1', 'node-2'], prefix());
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-trust-logs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'stdout.log'), '2026-01-01T00:00:01Z password=hunter2\n');
  const agentNc = await connect({ servers: c.server.url, creds: c.ids.agentSeedFiles.get('node-1')! });
  t.after(() => agentNc.close());
  const sub = serveLogs(agentNc, 'node-1', { source: (id) => (id === 't1' ? { dir, live: () => false } : undefined), archived: () => [] }, 50);
  t.after(() => sub.unsubscribe());
  await agentNc.flush();
  const other = await c.connectAs({ node: 'node-2' });
  for (const subject of ['gitcell.logs.node-1.out.>', 'gitcell.logs.*.out.>', 'gitcell.logs.node-1']) {
    const refused = permissionRefusal(other, 'subscription', subject);
    other.subscribe(subject, { callback: () => undefined });
    await refused;
  }
  const forged = permissionRefusal(other, 'publish', 'gitcell.logs.node-1.out.abc');
  other.publish('gitcell.logs.node-1.out.abc', 'forged');
  await forged;
  const forgedAnswer = permissionRefusal(other, 'publish', 'gitcell.logs.node-1.out.abc.reply');
  other.publish('gitcell.logs.node-1.out.abc.reply', '{"ok":true}');
  await forgedAnswer;
  // Agents answer on their own subjects and hold no allow_responses: a reply onto an asker's inbox is refused.
  const viewer = await connect({ servers: c.server.url, creds: c.ids.viewerSeedFile });
  t.after(() => viewer.close());
  const inbox = `${inboxPrefixFor(pubOf(c.ids.viewerSeedFile))}.asked`;
  const answered = permissionRefusal(agentNc, 'publish', inbox);
  const probe = agentNc.subscribe('gitcell.logs.node-1', { max: 1, callback: (_err, m) => void m.respond('on the inbox') });
  await agentNc.flush();
  viewer.subscribe(inbox, { callback: () => undefined });
  viewer.publish('gitcell.logs.node-1', '{}', { reply: inbox });
  await answered;
  probe.unsubscribe();
  for (const creds of [c.ids.viewerSeedFile, c.ids.controlSeedFile]) {
    const nc = await connect({ servers: c.server.url, creds });
    t.after(() => nc.close());
    let out = '';
    await streamLogs(nc, 'node-1', { taskId: 't1' }, (chunk) => { out += Buffer.from(chunk).toString(); });
    assert.equal(out, 'password=hunter2\n');
  }
});
