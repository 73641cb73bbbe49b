// The autoscaler's key family (bucket `autoscale`, key `<namespace>.<name>`: a Job's live replica
// count) against a real nats-server configured as `gitcell up` configures it. Its one writer is the
// autoscaler on the reconciler leader (control-plane identity). An agent that could write it would
// scale any Job in the cluster (to 0, or to exhaust every node); one that could read it learns
// nothing it needs: agents get neither. The viewer reads it (`get jobs`, `describe job`), writes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AutoscaleRecord } from '../../../api/index.ts';
import { silentLogger } from '../../../lib/index.ts';
import { Bucket, bucketName, connect, objectCodec, openClusterStore } from '../../../store/index.ts';
import { permissionRefusal, startTrustCluster } from '../../helpers/identities.ts';

const record = (replicas: number): AutoscaleRecord => ({ namespace: 'default', name: 'web', replicas, recommendations: [], scaleEvents: [], decisions: [], updatedAt: new Date().toISOString() });
const denied = (err: Error) => /permission|authorization/i.test(`${err.message} ${String((err as { cause?: unknown }).cause)}`);

test('autoscale key family: only the control plane writes a live count; an agent can neither write nor read it; the viewer only reads', async (t) => {
  const p = `as${randomBytes(3).toString('hex')}_`;
  const c = await startTrustCluster(t, ['node-1'], p);
  const control = await connect({ servers: c.server.url, creds: c.ids.controlSeedFile });
  t.after(() => control.close());
  const store = await openClusterStore(control, { prefix: p, log: silentLogger() });
  await store.autoscale.put('default.web', record(3));

  // Agent: a raw publish of a forged count is refused by the server, and the count is unchanged.
  const agent = await c.connectAs({ node: 'node-1' });
  const subject = `$KV.${bucketName('autoscale', p)}.default.web`;
  const refusal = permissionRefusal(agent, 'publish', subject);
  agent.publish(subject, new TextEncoder().encode(JSON.stringify({ schema: 1, data: record(0) })));
  assert.match((await refusal).message, /permission/i);
  // Nor through the KV API, nor may it read the bucket (stream info and gets are not in its allow-list).
  const agentKv = await connect({ servers: c.server.url, creds: c.seedFile({ node: 'node-1' }) });
  t.after(() => agentKv.close());
  const asAgent = await Bucket.bind<AutoscaleRecord>(agentKv, { name: bucketName('autoscale', p), timeoutMs: 2000 }, objectCodec()).catch((err: Error) => err);
  if (!(asAgent instanceof Error)) {
    await assert.rejects(asAgent.put('default.web', record(0)), denied);
    await assert.rejects(asAgent.get('default.web'), denied);
  } else assert.ok(denied(asAgent), asAgent.message);
  assert.equal((await store.autoscale.get('default.web'))?.value.replicas, 3);

  // Viewer: reads the count, cannot change it.
  const viewerNc = await connect({ servers: c.server.url, creds: c.ids.viewerSeedFile });
  t.after(() => viewerNc.close());
  const viewer = await openClusterStore(viewerNc, { prefix: p, log: silentLogger(), bindOnly: true, timeoutMs: 2000 });
  assert.equal((await viewer.autoscale.get('default.web'))?.value.replicas, 3);
  await assert.rejects(viewer.autoscale.put('default.web', record(9)), denied);
  await assert.rejects(viewer.autoscale.delete('default.web'), denied);
  assert.equal((await store.autoscale.get('default.web'))?.value.replicas, 3);
});
