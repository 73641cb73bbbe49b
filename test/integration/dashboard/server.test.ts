/**
 * The dashboard server against a real nats-server with gitcell's authorization: it reads as the
 * viewer, serves each page's JSON and deep links (404 for unknown objects), pushes changed rows over
 * server-sent events, shows a malformed record as such, and holds its boundary as an attacker tries
 * it: writes through its store identity refused by NATS, no method but GET, a foreign Host header
 * refused (DNS rebinding), the token required and checked, and no listening off loopback without one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../lib/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { ErrorCodes } from '../../../lib/error-codes.ts';
import { bucketName, connect, openAutoscalerStore, openClusterStore, type InvalidRecord } from '../../../store/index.ts';
import type { DesiredRecord, SyncRecord } from '../../../reconciler/index.ts';
import { startDashboard, type Dashboard } from '../../../dashboard/index.ts';
import { startTrustCluster, permissionRefusal } from '../../helpers/identities.ts';
import { waitFor } from '../../helpers/agent.ts';
import { seedCluster, readSse, rawGet, jobRecord } from './seed.ts';

const PREFIX = 'dash_';

test('dashboard server: pages, live rows, malformed records, and its read-only, token and Host boundary', { timeout: 180_000 }, async (t) => {
  const cluster = await startTrustCluster(t, ['node-1'], PREFIX);
  const control = await connect({ servers: cluster.server.url, creds: cluster.seedFile('control'), name: 'test control' });
  t.after(() => control.close());
  const cstore = await openClusterStore<DesiredRecord, SyncRecord>(control, { prefix: PREFIX, log: silentLogger() });
  await seedCluster(cstore);
  const viewer = await connect({ servers: cluster.server.url, creds: cluster.seedFile('viewer'), name: 'test dashboard' });
  t.after(() => viewer.close());
  let report: ((r: InvalidRecord) => void) | undefined;
  const vstore = await openClusterStore<DesiredRecord, SyncRecord>(viewer, { prefix: PREFIX, log: silentLogger(), bindOnly: true, onInvalid: (r) => report?.(r) });
  const d: Dashboard = await startDashboard({ store: vstore, nc: viewer, host: '127.0.0.1', port: 0, log: silentLogger() });
  t.after(() => d.close());
  report = d.model.reportInvalid;
  const get = (path: string, init: RequestInit = {}) => fetch(`${d.base}${path}`, init);
  const json = async (path: string) => (await get(path)).json() as Promise<Record<string, unknown>>;

  await t.test('pages: overview rows, the job with its history, pending reasons, deep links and not-found', async () => {
    const o = (await json('/api/overview')) as { nodes: { name: string; cpu: { requested: number } }[]; jobs: { key: string; status: string }[]; sources: { name: string }[] };
    assert.deepEqual(o.nodes.map((n) => n.name), ['node-1']);
    // web-0 and web-1 are bound to node-1 at 100m each: 200m requested.
    assert.equal(o.nodes[0]!.cpu.requested, 200);
    assert.deepEqual(o.jobs.map((j) => j.key).sort(), ['Job/default/huge', 'Job/default/web']);
    assert.equal(o.jobs.find((j) => j.key === 'Job/default/web')!.status, 'Progressing');
    assert.deepEqual(o.sources.map((s) => s.name), ['main']);
    const job = (await json('/api/jobs/default/web')) as { taskCount: number; history: { result: string; commit: string }[] };
    assert.equal(job.taskCount, 2);
    assert.deepEqual(job.history.map((h) => [h.result, h.commit]), [['Progressing', 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00']]);
    const pending = (await json('/api/pending')) as { pending: { taskId: string; message: string; reasons: { reason: string }[] }[] };
    assert.deepEqual(pending.pending.map((p) => p.taskId), ['huge-0']);
    assert.match(pending.pending[0]!.message, /0\/1 nodes/);
    assert.ok(pending.pending[0]!.reasons.some((r) => /cpu/i.test(r.reason)), JSON.stringify(pending.pending[0]!.reasons));
    const task = (await json('/api/tasks/huge-0')) as { unplaced?: { message: string } };
    assert.match(task.unplaced?.message ?? '', /0\/1 nodes/);
    for (const [path, status] of [['/', 200], ['/jobs/default/web', 200], ['/tasks/web-0', 200], ['/nodes/node-1', 200], ['/pending', 200], ['/events', 200],
      ['/jobs/default/nope', 404], ['/tasks/nope', 404], ['/nodes/nope', 404], ['/no/such/page', 404]] as const) {
      const res = await get(path);
      assert.equal(res.status, status, path);
      assert.match(await res.text(), /<div id="app">/, `${path} serves the page shell`);
    }
    const missing = await get('/api/jobs/default/nope');
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: string }).code, ErrorCodes.NotFound);
    for (const f of ['/vendor/preact.mjs', '/vendor/hooks.mjs', '/vendor/htm.mjs', '/vendor/uPlot.esm.js', '/static/app.js']) assert.equal((await get(f)).status, 200, f);
    assert.doesNotMatch(await (await get('/vendor/hooks.mjs')).text(), /from\s*"preact"/, 'the bare import is rewritten');
    assert.equal((await get('/static/../index.ts')).status, 404);
    assert.equal((await get('/vendor/..%2Fpackage.json')).status, 404);
  });

  await t.test('job page: its SLO says "no data" without Prometheus; the autoscaler\'s live count and decisions, live', async () => {
    const slo = { apiVersion: 'gitcell.io/v1', kind: 'SLO', metadata: { name: 'web-availability', namespace: 'default' }, spec: { job: 'web', objective: 99.5, window: '30d', indicator: { readiness: {} } } };
    await cstore.desired.put('SLO.default.web-availability', { ...jobRecord('web', 2), key: 'SLO.default.web-availability', object: slo } as never);
    await waitFor('the SLO on the job page', async () => ((await json('/api/slos/default/web')) as { slos: unknown[] }).slos.length === 1, 10_000);
    const { slos } = (await json('/api/slos/default/web')) as { slos: { name: string; objective: number; budget: number; burn: unknown[]; note: string }[] };
    assert.deepEqual([slos[0]!.name, slos[0]!.objective, slos[0]!.budget, slos[0]!.burn], ['web-availability', 99.5, 0.005, []]);
    assert.match(slos[0]!.note, /no data: monitoring not configured/);
    assert.deepEqual(((await json('/api/slos/default/huge')) as { slos: unknown[] }).slos, [], 'an SLO of another job is not shown');
    assert.equal((await get('/api/slos/default/nope')).status, 404);

    const scaled = jobRecord('scaled', 2);
    (scaled.object.spec as Record<string, unknown>).autoscale = { minReplicas: 2, maxReplicas: 6, metrics: [{ resource: 'cpu', targetAverageUtilization: 20 }] };
    await cstore.desired.put('Job.default.scaled', scaled);
    const decision = (current: number, desired: number, reason: string) => ({ at: new Date().toISOString(), current, desired, proposal: desired, stabilized: desired, reason, message: reason,
      metrics: [{ metric: 'cpu', current: 45.5, target: 20, proposal: desired, ready: current, missing: 0, unready: 0 }] });
    const row = async () => ((await json('/api/overview')) as { jobs: { key: string; autoscale?: { live: number; git: number; decisions: { reason: string; inputs: string }[] } }[] }).jobs.find((j) => j.key === 'Job/default/scaled')?.autoscale;
    await waitFor('the autoscaled job before any decision', async () => (await row())?.live === 2, 10_000);
    const ac = new AbortController();
    t.after(() => ac.abort());
    const sse = await readSse(`${d.base}/api/stream?view=/jobs/default/scaled`, {}, ac.signal);
    await sse.next('snapshot');
    // Only the autoscaler's own identity writes live counts (the control plane may not).
    const asNc = await connect({ servers: cluster.server.url, creds: cluster.seedFile('autoscaler'), name: 'test autoscaler' });
    t.after(() => asNc.close());
    const autoscaler = await openAutoscalerStore(asNc, { prefix: PREFIX, log: silentLogger() });
    await autoscaler.autoscale.put('default.scaled', { namespace: 'default', name: 'scaled', replicas: 5, recommendations: [], scaleEvents: [], decisions: [decision(2, 5, 'ScaleUp')], updatedAt: new Date().toISOString() });
    const batch = (await sse.until('rows', (b) => Boolean((b as { jobs?: Record<string, unknown> }).jobs?.['Job.default.scaled']))) as { jobs: Record<string, { autoscale: { live: number; git: number; decisions: { reason: string; inputs: string }[] } }> };
    const a = batch.jobs['Job.default.scaled']!.autoscale;
    assert.deepEqual([a.live, a.git, a.decisions.map((x) => x.reason)], [5, 2, ['ScaleUp']]);
    assert.match(a.decisions[0]!.inputs, /cpu 45\.5\/20/);
    ac.abort();
  });

  await t.test('live: a status write reaches an open stream as a changed task row and node row', async () => {
    const ac = new AbortController();
    t.after(() => ac.abort());
    // The overview paints without a task row; they follow in a chunk.
    const overview = await readSse(`${d.base}/api/stream?view=/`, {}, ac.signal);
    const first = (await overview.next('snapshot')) as { tasks: unknown[]; taskTotal: number; taskCounts: { jobs: Record<string, number> }; tasksDone: boolean; streamId: string };
    assert.deepEqual([first.tasks.length, first.taskTotal, first.taskCounts.jobs['Job/default/web'], first.tasksDone], [0, 3, 2, false]);
    // The browser asks for them once it painted (an id no stream has is not found).
    assert.equal((await get('/api/stream/rest?id=no-such-stream')).status, 404);
    assert.equal((await get(`/api/stream/rest?id=${first.streamId}`)).status, 200);
    const chunk = (await overview.next('tasks')) as { rows: { id: string }[]; done: boolean };
    assert.deepEqual([chunk.rows.map((r) => r.id).sort(), chunk.done], [['huge-0', 'web-0', 'web-1'], true]);
    // A job page gets its own tasks first, in its order, and the rest after.
    const sse = await readSse(`${d.base}/api/stream?view=/jobs/default/web`, {}, ac.signal);
    const snap = (await sse.next('snapshot')) as { tasks: { id: string; state: string }[]; streamId: string };
    assert.deepEqual(snap.tasks.map((x) => x.id), ['web-0', 'web-1']);
    await get(`/api/stream/rest?id=${snap.streamId}`);
    assert.equal(snap.tasks.find((x) => x.id === 'web-1')?.state, 'unknown');
    assert.deepEqual(((await sse.next('tasks')) as { rows: { id: string }[] }).rows.map((r) => r.id), ['huge-0']);
    const t0 = Date.now();
    await cstore.status.put('node-1.web-1', { taskId: 'web-1', node: 'node-1', templateHash: 'h2', state: 'running', ready: true, restarts: 0, ip: '10.1.0.7', usage: { cpuMillis: 30, memoryBytes: 1 << 20 }, updatedAt: new Date().toISOString() });
    // The task row and the node row it changes (CPU used) come in the same batch or the next ones.
    let task: { state: string; ready: boolean; ip: string } | undefined;
    let used = 0;
    await sse.until('rows', (b) => {
      const batch = b as { tasks?: Record<string, { state: string; ready: boolean; ip: string }>; nodes?: Record<string, { cpu: { used: number } }> };
      task = batch.tasks?.['web-1'] ?? task;
      used = batch.nodes?.['node-1']?.cpu.used ?? used;
      return task?.state === 'running' && used > 0;
    });
    process.stderr.write(`dashboard test: status write to rows on the stream in ${Date.now() - t0} ms\n`);
    assert.equal(task!.ready, true);
    assert.equal(task!.ip, '10.1.0.7');
    assert.equal(used, 30);
    ac.abort();
  });

  await t.test('a malformed record shows as such, and the key written well again clears it', async () => {
    control.publish(`$KV.${bucketName('tasks', PREFIX)}.broken-0`, new TextEncoder().encode('{not json'));
    await waitFor('the malformed record on the overview', async () => ((await json('/api/overview')) as { malformed: unknown[] }).malformed.length === 1, 10_000);
    const page = (await json('/api/tasks/broken-0')) as { malformed?: { reason: string; bucket: string } };
    assert.equal(page.malformed?.bucket, bucketName('tasks', PREFIX));
    assert.match(page.malformed?.reason ?? '', /JSON|json/);
    assert.equal((await get('/tasks/broken-0')).status, 200, 'its deep link opens and shows it');
    await cstore.tasks.delete('broken-0');
    await waitFor('the malformed record gone', async () => ((await json('/api/overview')) as { malformed: unknown[] }).malformed.length === 0, 10_000);
  });

  await t.test('attacker: the dashboard writes nothing, through HTTP or its store identity', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await get('/api/jobs/default/web', { method });
      assert.equal(res.status, 405, method);
    }
    await assert.rejects(vstore.tasks.put('evil-0', { id: 'evil-0' } as never), (err) => isGitcellError(err, ErrorCodes.PermissionDenied) || /permission/i.test(String(err)));
    const subject = `$KV.${bucketName('bindings', PREFIX)}.web-0`;
    const refusal = permissionRefusal(viewer, 'publish', subject);
    viewer.publish(subject, new TextEncoder().encode('{}'));
    await refusal;
    assert.equal((await cstore.bindings.get('web-0'))?.value.node, 'node-1', 'the binding is untouched');
    // DNS rebinding: a page elsewhere makes the browser send its own name as Host.
    const rebound = await rawGet(d.base, '/api/overview', `evil.example:${new URL(d.base).port}`);
    assert.equal(rebound.status, 421);
    assert.equal((JSON.parse(rebound.body) as { code: string }).code, ErrorCodes.DashboardUnauthorized);
    assert.equal((await rawGet(d.base, '/api/overview', `localhost:${new URL(d.base).port}`)).status, 200);
  });

  await t.test('attacker: with a token, nothing is served without it; off loopback there is no dashboard without one', async () => {
    const token = 'a-long-enough-test-token-0123456789';
    const dt = await startDashboard({ store: vstore, nc: viewer, host: '127.0.0.1', port: 0, token, log: silentLogger() });
    t.after(() => dt.close());
    for (const headers of [{}, { authorization: 'Bearer wrong-token-wrong-token-wrong' }, { cookie: 'gitcell_dashboard=wrong' }] as Record<string, string>[]) {
      for (const path of ['/', '/api/overview', '/api/stream', '/static/app.js', '/jobs/default/web']) {
        const res = await fetch(`${dt.base}${path}`, { headers });
        assert.equal(res.status, 401, `${path} with ${JSON.stringify(headers)}`);
        await res.body?.cancel();
      }
    }
    assert.equal((await fetch(`${dt.base}/api/overview`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    const login = await fetch(`${dt.base}/jobs/default/web?token=${token}`, { redirect: 'manual' });
    assert.equal(login.status, 303);
    assert.equal(login.headers.get('location'), '/jobs/default/web', 'the token leaves the address bar');
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const ac = new AbortController();
    const sse = await readSse(`${dt.base}/api/stream`, { cookie: cookie.split(';')[0]! }, ac.signal);
    assert.ok(await sse.next('snapshot'));
    ac.abort();
    await assert.rejects(startDashboard({ store: vstore, nc: viewer, host: '0.0.0.0', port: 0, log: silentLogger() }), (err) => isGitcellError(err, ErrorCodes.DashboardTokenRequired));
    await assert.rejects(startDashboard({ store: vstore, nc: viewer, host: '127.0.0.1', port: 0, token: 'short', log: silentLogger() }), (err) => isGitcellError(err, ErrorCodes.Usage));
  });

});
