/**
 * Informer memory benchmark (issue 17): what one task costs in each informer of the control plane.
 * `npm run bench -- informer-memory [--tasks N] [--per-job N] [--nodes N]`: a real nats-server is
 * filled with N tasks (Jobs of `--per-job` tasks sharing a template, as the reconciler makes them),
 * a status and a binding each; then, for the store's codecs (`roleCodec`, shared parts) and for the
 * plain `objectCodec` (every record decoded on its own), an Informer of each bucket is started and
 * the live heap it adds once synced (after a full GC) is divided by N. Heap bytes only: RSS adds
 * the GC's headroom on top (about 1.5..4 times the live heap in the scale runs).
 * Last line: `{"tasks", "<codec>_<bucket>_bytes_per_entry", ...}`.
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Binding, TaskSpec, TaskStatus, TaskTemplate } from '../api/index.ts';
import { silentLogger } from '../lib/index.ts';
import { Bucket, bucketConfig, connect, Informer, objectCodec, openClusterStore, roleCodec, type BucketRole, type RecordCodec } from '../store/index.ts';
import { startNatsServer } from '../test/helpers/nats.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const N = arg('--tasks', 20_000);
const PER_JOB = arg('--per-job', 100);
const NODES = arg('--nodes', 1_000);
const PREFIX = 'memb_';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

/** template is a Job's resolved template as the reconciler makes it (the scale workload's shape). */
function template(job: number): TaskTemplate {
  return {
    image: 'localhost/hollow:latest', command: ['sleep', 'infinity'], env: [{ name: 'MODE', value: `v${job % 3}` }],
    resources: { requests: { cpuMillis: 100, memoryBytes: 128 << 20 }, limits: { cpuMillis: 100, memoryBytes: 128 << 20 } },
    ports: [], probes: {}, secretMounts: [], nodeSelector: {}, tolerations: [], restartPolicy: 'Always', terminationGracePeriodSeconds: 30,
  };
}

function records(i: number): { spec: TaskSpec; status: TaskStatus; binding: Binding; node: string } {
  const job = Math.floor(i / PER_JOB);
  const name = `j${String(job).padStart(4, '0')}`;
  const hash = `${job.toString(16).padStart(8, '0')}${'5e1f'.repeat(14)}`;
  const id = `default.${name}.${i % PER_JOB}-${hash.slice(0, 10)}`;
  const node = `hollow-a-${i % NODES}`;
  const now = new Date(Date.now() + i).toISOString();
  const spec: TaskSpec = {
    id, namespace: 'default', owner: { kind: 'Job', name }, jobKey: `Job/default/${name}`, index: i % PER_JOB, priority: 500, type: 'service',
    templateHash: hash, template: template(job), generation: 1, createdAt: now,
  };
  const status: TaskStatus = { taskId: id, node, templateHash: hash, state: 'running', ready: true, restarts: 0, startedAt: now, updatedAt: now, ip: `10.128.${i % 250}.${i % 200}` };
  return { spec, status, binding: { taskId: id, node, boundAt: now, schedulerTerm: 1 }, node };
}

const log = (line: string): void => console.log(`${line} (load ${loadavg()[0]!.toFixed(2)})`);
const codecs: Record<string, (role: BucketRole) => RecordCodec<unknown>> = { object: () => objectCodec(), role: (role) => roleCodec(role) };
const child = process.argv.indexOf('--child');

/** measure is one child process's run: one informer of `role` with `codec`; prints its bytes per entry. */
async function measure(url: string, codec: string, role: BucketRole): Promise<void> {
  const nc = await connect({ servers: url, name: 'informer-memory measure' });
  try {
    const bucket = await Bucket.bind<unknown>(nc, bucketConfig(role, PREFIX, {}), codecs[codec]!(role), { log: silentLogger() });
    const ac = new AbortController();
    const before = heap();
    const informer = new Informer<unknown>(bucket, { signal: ac.signal, log: silentLogger() });
    await informer.synced;
    console.log(JSON.stringify({ bytes: Math.round((heap() - before) / informer.entries.size), entries: informer.entries.size }));
    ac.abort();
    await informer.done;
  } finally {
    await nc.close();
  }
}

/** fill writes the tasks, statuses and bindings. */
async function fill(url: string): Promise<void> {
  const nc = await connect({ servers: url, name: 'informer-memory bench' });
  try {
    const store = await openClusterStore(nc, { prefix: PREFIX, log: silentLogger() });
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      const r = records(i);
      writes.push(store.tasks.put(r.spec.id, r.spec), store.status.put(`${r.node}.${r.spec.id}`, r.status), store.bindings.put(r.spec.id, r.binding));
      if (writes.length >= 768) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
  } finally {
    await nc.close();
  }
}

if (child >= 0) {
  await measure(process.argv[child + 1]!, process.argv[child + 2]!, process.argv[child + 3] as BucketRole);
} else {
  const server = await startNatsServer();
  const out: Record<string, number> = { tasks: N };
  try {
    await fill(server.url);
    log(`filled: ${N} tasks, statuses and bindings (${PER_JOB} tasks per Job, ${NODES} nodes)`);
    // Each informer in a process of its own: nothing of the one before stays in the heap measured.
    for (const codec of Object.keys(codecs)) {
      for (const role of ['tasks', 'status', 'bindings'] as const) {
        const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2), '--child', server.url, codec, role], { encoding: 'utf8', timeout: 300_000 });
        const line = r.stdout.trim().split('\n').pop() ?? '';
        if (r.status !== 0 || !line.startsWith('{')) throw new Error(`informer-memory: the ${codec} ${role} measurement failed (${r.status}): ${r.stderr.slice(-2000)}`);
        const { bytes, entries } = JSON.parse(line) as { bytes: number; entries: number };
        out[`${codec}_${role}_bytes_per_entry`] = bytes;
        log(`${codec} codec, ${role}: ${entries} entries, ${bytes} B of live heap each`);
      }
    }
  } finally {
    await server.stop();
  }
  console.log(JSON.stringify(out));
}
