// The autoscaler's key family (bucket `autoscale`, key `<namespace>.<name>`: a Job's live replica
// count) against a real nats-server configured as `gitcell up` configures it. Its one writer is the
// autoscaler identity (its own connection on the reconciler leader). The control plane's identity
// (scheduler, admin CLI) that could write it would scale any Job past the autoscaler's decision; an
// agent that could would scale any Job in the cluster (to 0, or to exhaust every node). The viewer
// reads it (`get jobs`, `describe job`). Each identity plays the attacker with the plain protocol
// and through the store's own client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AutoscaleRecord, ClusterEvent, TaskSpec } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import {
  appendEvent, Bucket, bucketName, connect, eventsSubjectRoot, objectCodec, openAutoscalerStore, openClusterStore, AUTOSCALER_SOURCE, AUTOSCALER_WRITER, CONTROL_WRITER,
} from '../../../store/index.ts';
import { permissionRefusal, startTrustCluster, type TrustCluster } from '../../helpers/identities.ts';

const record = (replicas: number): AutoscaleRecord => ({ namespace: 'default', name: 'web', replicas, recommendations: [], scaleEvents: [], decisions: [], updatedAt: new Date().toISOString() });
const denied = (err: Error) => /permission|authorization/i.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`);
const enc = new TextEncoder();
const event = (source: string): ClusterEvent => ({ type: 'Normal', reason: 'Autoscaled', object: { kind: 'Job', namespace: 'default', name: 'web' }, message: '2 -> 0 (forged)', time: new Date().toISOString(), source });

/** setup: the autoscaler creates its bucket and stores a count of 3, as on a running cluster; the control plane opens the store after it. */
async function setup(t: Parameters<typeof startTrustCluster>[0]) {
  const p = `as${randomBytes(3).toString('hex')}_`;
  const c = await startTrustCluster(t, ['node-1'], p);
  const asNc = await connect({ servers: c.server.url, creds: c.ids.autoscalerSeedFile });
  t.after(() => asNc.close());
  const autoscaler = await openAutoscalerStore(asNc, { prefix: p, log: silentLogger(), timeoutMs: 3000 });
  await autoscaler.autoscale.put('default.web', record(3));
  const controlNc = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile });
  t.after(() => controlNc.close());
  const control = await openClusterStore(controlNc, { prefix: p, log: silentLogger(), timeoutMs: 3000 });
  return { p, c, autoscaler, control };
}

/** refusedPublish publishes raw as `nc` and resolves once the server refused it. */
async function refusedPublish(nc: NatsConnection, subject: string, body: unknown = {}): Promise<void> {
  const refusal = permissionRefusal(nc, 'publish', subject);
  nc.publish(subject, enc.encode(JSON.stringify(body)));
  assert.match((await refusal).message, /permission/i, subject);
}

/** streamApiRefused asserts the JetStream API calls that would reconfigure, empty or re-create (delete, restore) the autoscale stream are refused for `who`. */
async function streamApiRefused(c: TrustCluster, who: 'control' | { node: string }, p: string): Promise<void> {
  const nc = await c.connectAs(who);
  const stream = `KV_${bucketName('autoscale', p)}`;
  for (const op of ['UPDATE', 'DELETE', 'PURGE', 'MSG.DELETE', 'RESTORE']) await refusedPublish(nc, `$JS.API.STREAM.${op}.${stream}`, { name: stream });
}

test('control plane (scheduler, admin CLI): cannot write, delete, purge or reconfigure a live count, nor speak as the autoscaler', async (t) => {
  const { p, c, control } = await setup(t);
  // Raw: a forged count, the stream API, an event under the autoscaler's writer token.
  const raw = await c.connectAs('control');
  await refusedPublish(raw, `$KV.${bucketName('autoscale', p)}.default.web`, { schema: 1, data: record(0) });
  await streamApiRefused(c, 'control', p);
  // Creating the existing stream again with another configuration (a source of forged counts) is refused by the server.
  const stream = `KV_${bucketName('autoscale', p)}`;
  const reply = await raw.request(`$JS.API.STREAM.CREATE.${stream}`, enc.encode(JSON.stringify({ name: stream, subjects: [`$KV.${bucketName('autoscale', p)}.>`], sources: [{ name: `${p}events` }] })), { timeout: 5000 });
  assert.match(JSON.stringify(reply.json()), /already in use/i);
  await refusedPublish(raw, `${eventsSubjectRoot(p)}.${AUTOSCALER_WRITER}.Job.default.web`, { schema: 1, data: event(AUTOSCALER_SOURCE) });
  // Through the store's client (what a scheduler or `gitcell` command would run).
  await assert.rejects(control.autoscale.put('default.web', record(0)), denied);
  await assert.rejects(control.autoscale.update('default.web', record(0), 1), denied);
  await assert.rejects(control.autoscale.delete('default.web'), denied);
  await assert.rejects(control.autoscale.create('default.other', record(9)), denied);
  // It still reads the count (the controllers follow it).
  assert.equal((await control.autoscale.get('default.web'))?.value.replicas, 3);
  // An autoscaler event written under its own token is refused by every reader as forged.
  await appendEvent(control.events, event(AUTOSCALER_SOURCE));
  const seen = await control.events.recent({ prefix: 'Job.default.web' });
  assert.equal(seen.filter((e) => e.value.source === AUTOSCALER_SOURCE).length, 0, 'a control-plane event claiming the autoscaler was accepted');
});

test('agent: can neither write nor read a live count, nor touch its stream', async (t) => {
  const { p, c, control } = await setup(t);
  const agent = await c.connectAs({ node: 'node-1' });
  await refusedPublish(agent, `$KV.${bucketName('autoscale', p)}.default.web`, { schema: 1, data: record(0) });
  await streamApiRefused(c, { node: 'node-1' }, p);
  // Nor through the KV API, nor may it read the bucket (stream info and gets are not in its allow-list).
  const agentKv = await connect({ servers: c.server.url, creds: c.seedFile({ node: 'node-1' }) });
  t.after(() => agentKv.close());
  const asAgent = await Bucket.bind<AutoscaleRecord>(agentKv, { name: bucketName('autoscale', p), timeoutMs: 2000 }, objectCodec());
  await assert.rejects(asAgent.put('default.web', record(0)), denied);
  await assert.rejects(asAgent.get('default.web'), denied);
  assert.equal((await control.autoscale.get('default.web'))?.value.replicas, 3);
});

test('viewer: reads a live count, cannot change it', async (t) => {
  const { p, c, control } = await setup(t);
  const viewerNc = await connect({ servers: c.server.url, creds: c.ids.viewerSeedFile });
  t.after(() => viewerNc.close());
  const viewer = await openClusterStore(viewerNc, { prefix: p, log: silentLogger(), bindOnly: true, timeoutMs: 2000 });
  assert.equal((await viewer.autoscale.get('default.web'))?.value.replicas, 3);
  await assert.rejects(viewer.autoscale.put('default.web', record(9)), denied);
  await assert.rejects(viewer.autoscale.delete('default.web'), denied);
  assert.equal((await control.autoscale.get('default.web'))?.value.replicas, 3);
});

test('autoscaler: writes its counts and events, reads what it decides from, and nothing else', async (t) => {
  const { p, c, autoscaler, control } = await setup(t);
  const task = { id: 'default.web.0-abc', jobKey: 'Job.default.web' } as TaskSpec;
  await control.tasks.put(task.id, task);
  // What it needs: read the Jobs' tasks (and desired, status, bindings), CAS its count, emit events.
  assert.equal((await autoscaler.tasks.get(task.id))?.value.jobKey, 'Job.default.web');
  for (const b of [autoscaler.desired, autoscaler.status, autoscaler.bindings]) assert.equal(await b.get('nothing'), undefined);
  const cur = (await autoscaler.autoscale.get('default.web'))!;
  await autoscaler.autoscale.update('default.web', record(4), cur.revision);
  await appendEvent(autoscaler.events, { ...event(AUTOSCALER_SOURCE), message: '3 -> 4' });
  const seen = await control.events.recent({ prefix: 'Job.default.web' });
  assert.deepEqual(seen.map((e) => [e.writer, e.value.message]), [[AUTOSCALER_WRITER, '3 -> 4']]);
  // What it may not: any other bucket, events as someone else, another stream's API, log streams.
  const raw = await c.connectAs('autoscaler');
  for (const role of ['tasks', 'desired', 'bindings', 'nodespec', 'leases', 'sync', 'services'] as const) await refusedPublish(raw, `$KV.${bucketName(role, p)}.x`);
  await refusedPublish(raw, `$KV.${bucketName('status', p)}.node-1.default.web.0-abc`);
  await refusedPublish(raw, `$KV.${bucketName('nodes', p)}.node-1`);
  for (const writer of [CONTROL_WRITER, 'node-1']) await refusedPublish(raw, `${eventsSubjectRoot(p)}.${writer}.Job.default.web`);
  await refusedPublish(raw, `$JS.API.STREAM.PURGE.KV_${bucketName('tasks', p)}`);
  await refusedPublish(raw, `$JS.API.STREAM.DELETE.${p}events`);
  const sub = permissionRefusal(raw, 'subscription', 'gitcell.logs.node-1.out.x');
  raw.subscribe('gitcell.logs.node-1.out.x');
  await sub;
  // The store's client says the same, and nothing changed.
  await assert.rejects(Bucket.bind<TaskSpec>(autoscaler.nc, { name: bucketName('tasks', p), timeoutMs: 2000 }, objectCodec()).then((b) => b.put(task.id, { ...task, jobKey: 'Job.default.evil' })), denied);
  assert.equal((await control.tasks.get(task.id))?.value.jobKey, 'Job.default.web');
  assert.equal((await control.autoscale.get('default.web'))?.value.replicas, 4);
});
