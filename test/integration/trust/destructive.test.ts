// Destructive headers and API calls across identities, played as an agent with the plain NATS
// protocol against a real nats-server configured as `gitcell up` configures it: a rollup header that
// would wipe every node's status, purges and deletes, deleting or taking over another client's
// consumer, and events forged in another identity's name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ClusterEvent, TaskStatus } from '../../../api/cluster.ts';
import { silentLogger } from '../../../lib/index.ts';
import { appendEvent, connect, eventsSubjectRoot, openAgentStore, openClusterStore, CONTROL_WRITER, type ClusterStore } from '../../../store/index.ts';
import { permissionRefusal, startTrustCluster, type TrustCluster } from '../../helpers/identities.ts';
import { waitFor } from '../../helpers/wait.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const status = (node: string, taskId: string): TaskStatus => ({ taskId, node, templateHash: 'h', state: 'running', ready: true, restarts: 0, updatedAt: new Date().toISOString() });

async function setup(t: Parameters<typeof startTrustCluster>[0]): Promise<{ c: TrustCluster; p: string; store: ClusterStore; attacker: NatsConnection }> {
  const p = `ds${randomBytes(3).toString('hex')}_`;
  const c = await startTrustCluster(t, ['node-1', 'node-2'], p);
  const nc = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile });
  t.after(() => nc.close());
  const store = await openClusterStore(nc, { prefix: p, log: silentLogger() });
  const attacker = await c.connectAs({ node: 'node-1' });
  return { c, p, store, attacker };
}

/** request sends a raw request and returns the reply's JSON, or the error (a permission refusal). */
async function request(nc: NatsConnection, subject: string, body: unknown, hdrs?: Record<string, string>): Promise<{ error?: { code?: number; description?: string } } | Error> {
  const h = hdrs ? headers() : undefined;
  for (const [k, v] of Object.entries(hdrs ?? {})) h!.set(k, v);
  try {
    const m = await nc.request(subject, enc.encode(typeof body === 'string' ? body : JSON.stringify(body)), { timeout: 3000, ...(h ? { headers: h } : {}) });
    return JSON.parse(dec.decode(m.data)) as { error?: { code?: number; description?: string } };
  } catch (err) {
    return err as Error;
  }
}

test('rollup wipe: an agent\'s Nats-Rollup header on its own status key (or node key, or an event) is refused and nothing else is lost', async (t) => {
  const { p, store, attacker } = await setup(t);
  await store.status.put('node-2.shop.web.0', status('node-2', 'shop.web.0'));
  await store.status.put('node-1.shop.web.1', status('node-1', 'shop.web.1'));
  await store.nodes.put('node-2', { name: 'node-2' } as never);
  for (const [subject, rollup] of [
    [`$KV.${p}status.node-1.shop.web.1`, 'all'],
    [`$KV.${p}status.node-1.shop.web.1`, 'sub'],
    [`$KV.${p}nodes.node-1`, 'all'],
    [`${eventsSubjectRoot(p)}.node-1.Task._.x`, 'all'],
  ] as const) {
    const r = await request(attacker, subject, { schema: 1, data: {} }, { 'Nats-Rollup': rollup });
    assert.ok(!(r instanceof Error), `${subject}: ${String(r)}`);
    assert.match(r.error?.description ?? '', /rollup/i, `${subject} with Nats-Rollup: ${rollup} was accepted`);
  }
  assert.equal((await store.status.get('node-2.shop.web.0'))?.value.node, 'node-2');
  assert.equal((await store.status.get('node-1.shop.web.1'))?.value.node, 'node-1');
  assert.equal((await store.nodes.get('node-2'))?.value.name, 'node-2');
});

test('purge and delete APIs: an agent may not purge or delete a stream or a message', async (t) => {
  const { p, attacker } = await setup(t);
  for (const subject of [`$JS.API.STREAM.PURGE.KV_${p}status`, `$JS.API.STREAM.DELETE.KV_${p}nodes`, `$JS.API.STREAM.MSG.DELETE.KV_${p}status`, `$JS.API.STREAM.UPDATE.KV_${p}status`, `$JS.API.STREAM.PURGE.${p}events`]) {
    const refused = permissionRefusal(attacker, 'publish', subject);
    await request(attacker, subject, {});
    await refused;
  }
});

test('consumer deletion and takeover: an agent cannot delete, inspect or re-target the control plane\'s watch', async (t) => {
  const { c, p, store, attacker } = await setup(t);
  const seen: string[] = [];
  const w = store.tasks.watch({});
  t.after(() => w.close());
  void (async () => {
    for await (const ev of w) if (ev.type === 'put') seen.push(ev.key);
  })();
  await store.tasks.put('a', { id: 'a' } as never);
  await waitFor('the first put', () => seen.includes('a'), 30_000);
  const controlNc = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile });
  t.after(() => controlNc.close());
  const jsm = await jetstreamManager(controlNc);
  const stream = `KV_${p}tasks`;
  const names = (await jsm.consumers.list(stream).next()).map((ci) => ci.name);
  assert.equal(names.length, 1);
  const victim = names[0]!;
  const agentInbox = `${(attacker as unknown as { options: { inboxPrefix: string } }).options.inboxPrefix}.stolen`;
  const hijack = { stream_name: stream, config: { name: victim, deliver_subject: agentInbox, ack_policy: 'none', deliver_policy: 'all', filter_subject: `$KV.${p}tasks.>` } };
  for (const [subject, body] of [
    [`$JS.API.CONSUMER.DELETE.${stream}.${victim}`, {}],
    [`$JS.API.CONSUMER.INFO.${stream}.${victim}`, {}],
    [`$JS.API.CONSUMER.CREATE.${stream}.${victim}`, hijack],
    [`$JS.API.CONSUMER.CREATE.${stream}.${victim}.$KV.${p}tasks.>`, hijack],
    [`$JS.API.CONSUMER.DURABLE.CREATE.${stream}.${victim}`, hijack],
    [`$JS.API.CONSUMER.LIST.${stream}`, {}],
    [`$JS.API.CONSUMER.NAMES.${stream}`, {}],
  ] as const) {
    const refused = permissionRefusal(attacker, 'publish', subject);
    await request(attacker, subject, body);
    await refused;
  }
  // The one create subject it may use (server-named ephemeral) does not take a victim's name.
  const r = await request(attacker, `$JS.API.CONSUMER.CREATE.${stream}`, hijack);
  assert.ok(!(r instanceof Error) && r.error, `ephemeral create with the victim's name was accepted: ${JSON.stringify(r)}`);
  // The victim's consumer is intact and still delivers to the control plane.
  const after = await jsm.consumers.info(stream, victim);
  assert.notEqual(after.config.deliver_subject, agentInbox);
  await store.tasks.put('b', { id: 'b' } as never);
  await waitFor('the watch to go on', () => seen.includes('b'), 30_000);
});

test('forged events: an agent cannot write as the control plane or another node, and readers refuse a body claiming another source', async (t) => {
  const { c, p, store, attacker } = await setup(t);
  const root = eventsSubjectRoot(p);
  const forged = (source: string): ClusterEvent => ({ time: new Date().toISOString(), type: 'Warning', reason: 'Forged', object: { kind: 'Task', namespace: 'shop', name: 'web-0' }, message: 'forged', source });
  for (const subject of [`${root}.${CONTROL_WRITER}.Task.shop.web-0`, `${root}.node-2.Task.shop.web-0`, `${root}.Task.shop.web-0`]) {
    const refused = permissionRefusal(attacker, 'publish', subject);
    attacker.publish(subject, JSON.stringify({ schema: 1, data: forged('reconciler') }));
    await refused;
  }
  // Under its own writer token the server takes it, but no reader believes a body claiming another source.
  const r = await request(attacker, `${root}.node-1.Task.shop.web-0`, { schema: 1, data: forged('scheduler/x') });
  assert.ok(!(r instanceof Error) && !r.error, JSON.stringify(r));
  // What the agent legitimately writes (through gitcell's agent store) is read with its writer.
  const agentNc = await connect({ servers: c.server.url, creds: c.ids.agentSeedFiles.get('node-1')! });
  t.after(() => agentNc.close());
  const agent = await openAgentStore(agentNc, 'node-1', { prefix: p, timeoutMs: 2000 });
  await appendEvent(agent.events, { ...forged('agent/node-1'), reason: 'Started', message: 'real' });
  await appendEvent(store.events, { ...forged('reconciler'), reason: 'Applied', message: 'real' });
  const events = await waitFor('both real events', async () => {
    const all = await store.events.recent({ limit: 10, prefix: 'Task.shop.web-0' });
    return all.length >= 2 ? all : undefined;
  });
  assert.deepEqual(events.map((e) => [e.writer, e.value.source, e.value.reason]), [['node-1', 'agent/node-1', 'Started'], [CONTROL_WRITER, 'reconciler', 'Applied']]);
});
