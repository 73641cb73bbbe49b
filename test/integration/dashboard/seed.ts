/**
 * Helpers of the dashboard tests: a small cluster written straight into the store as its writers
 * would (one node, Job default/web with a rollout in progress, a task too big for any node, a Git
 * source, a RolloutStarted event), and a reader of server-sent events over fetch.
 */
import { request } from 'node:http';
import type { TaskSpec } from '../../../api/index.ts';
import { nodeRecord, taskSpec } from '../scheduler/fixtures.ts';
import type { ClusterStore } from '../../../store/index.ts';
import { appendEvent } from '../../../store/index.ts';
import type { DesiredRecord, SyncRecord, SyncStatus, WorkloadStatus } from '../../../reconciler/index.ts';

const Mi = 1024 ** 2;
/** COMMIT is the revision the seeded cluster applied. */
export const COMMIT = 'c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00';

/** webTask is task `<job>-<index>` of a service Job default/<job> on template h2, requesting `cpuMillis`. */
export function webTask(job: string, index: number, cpuMillis = 100): TaskSpec {
  return { ...taskSpec(job, index, cpuMillis, 16 * Mi, 500), type: 'service', templateHash: 'h2' };
}

/** jobRecord is the desired record of Job default/<name> with `replicas`. */
export function jobRecord(name: string, replicas: number): DesiredRecord {
  const object = { apiVersion: 'gitcell.io/v1', kind: 'Job', metadata: { name, namespace: 'default' }, spec: { type: 'service', replicas, template: { image: 'localhost/busybox:latest' } } };
  return { key: `Job.default.${name}`, object, generation: 1, specHash: 'x', origin: { type: 'git', revision: COMMIT }, revision: COMMIT, updatedAt: new Date().toISOString() } as DesiredRecord;
}

/** workloadStatus is a rollout of `hash` in progress with `ready` of `desired` tasks ready. */
export function workloadStatus(name: string, desired: number, ready: number): WorkloadStatus {
  const now = new Date().toISOString();
  return {
    kind: 'Job', namespace: 'default', name, observedGeneration: 1, templateHash: 'h2', desired, current: desired, ready, updated: desired,
    rollout: { templateHash: 'h2', revision: COMMIT, generation: 1, phase: 'Progressing', startedAt: now, lastProgressAt: now, bestNewReady: ready, fewestOld: 0 },
    conditions: [], updatedAt: now,
  };
}

/** seedCluster writes node-1, Job web (web-0, web-1 bound to node-1, web-0 running), huge-0 (needs 64 cores), source main, an event. */
export async function seedCluster(s: ClusterStore<DesiredRecord, SyncRecord>): Promise<void> {
  const now = new Date().toISOString();
  await s.nodes.put('node-1', nodeRecord('node-1', 1000, 1024 * Mi));
  await s.desired.put('Job.default.web', jobRecord('web', 2));
  await s.desired.put('Job.default.huge', jobRecord('huge', 1));
  for (const t of [webTask('web', 0), webTask('web', 1), webTask('huge', 0, 64_000)]) await s.tasks.put(t.id, t);
  for (const id of ['web-0', 'web-1']) await s.bindings.put(id, { taskId: id, node: 'node-1', boundAt: now, schedulerTerm: 1 });
  await s.status.put('node-1.web-0', { taskId: 'web-0', node: 'node-1', templateHash: 'h2', state: 'running', ready: true, restarts: 0, ip: '10.1.0.6', updatedAt: now });
  await s.sync.put('object.Job.default.web', workloadStatus('web', 2, 1) as unknown as SyncRecord);
  const source: SyncStatus = { kind: 'SyncStatus', source: 'main', observedGeneration: 1, lastAppliedRevision: COMMIT, lastAttemptedRevision: COMMIT, conditions: [], inventoryCount: 3, history: [], failedRollouts: [], updatedAt: now };
  await s.sync.put('source.main', source as unknown as SyncRecord);
  await appendEvent(s.events, { time: now, type: 'Normal', reason: 'RolloutStarted', object: { kind: 'Job', namespace: 'default', name: 'web' }, message: `rolling out template h2 of revision ${COMMIT}`, source: 'test' });
}

/** SseReader yields the server-sent events of one response in order. */
export interface SseReader {
  /** next resolves with the data (parsed JSON) of the next event called `name`, skipping others */
  next(name: string): Promise<unknown>;
  /** until resolves with the first `name` event whose data satisfies `pred` */
  until(name: string, pred: (data: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
}

/** readSse opens an event stream with fetch (headers: a cookie or an authorization) until `signal` aborts. */
export async function readSse(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<SseReader> {
  const res = await fetch(url, { headers, signal });
  if (!res.ok || !res.body) throw new Error(`${url}: ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  const queue: { event: string; data: unknown }[] = [];
  let buf = '';
  const pull = async (): Promise<void> => {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${url}: the stream ended`);
    buf += value;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event && data !== undefined) queue.push({ event, data: JSON.parse(data) });
    }
  };
  const next = async (name: string): Promise<unknown> => {
    for (;;) {
      const i = queue.findIndex((e) => e.event === name);
      if (i >= 0) return queue.splice(0, i + 1).at(-1)!.data;
      queue.length = 0;
      await pull();
    }
  };
  return {
    next,
    until: async (name, pred, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no ${name} event as expected within ${timeoutMs} ms`)), Math.max(1, deadline - Date.now())).unref());
        const d = await Promise.race([next(name), timer]);
        if (pred(d)) return d;
      }
    },
  };
}

/** rawGet sends a GET with a Host header of our choosing (fetch always sends the URL's own). */
export function rawGet(base: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject).end();
  });
}
