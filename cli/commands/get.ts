import type { Command } from 'commander';
import { GitcellError } from '../../lib/errors.ts';
import { DEFAULT_NAMESPACE, maxTasks, nodeIsLive, statusKey, type TaskSpec, type TaskStatus, type Binding } from '../../api/index.ts';
// The two modules, not reconciler/index.ts: that would load the whole reconciler (git, ajv) into a client command.
import { DEFAULT_NODE_GRACE_MS } from '../../reconciler/controllers/eligibility.ts';
import { objectStatusKey } from '../../reconciler/apply/keys.ts';
import type { CronJobStatus, DesiredRecord, WorkloadStatus } from '../../reconciler/index.ts';
import { addClusterOptions, age, outputFormat, printJson, table, withStore, type ClientOptions, type ClientStore } from '../client.ts';

/** GET_RESOURCES are what `gitcell get` lists (singular forms accepted too). */
export const GET_RESOURCES = ['jobs', 'tasks', 'nodes', 'daemonsets', 'cronjobs'] as const;

type Resource = (typeof GET_RESOURCES)[number];

/** resourceOf accepts "jobs", "job", "ds", "cj"...; E_USAGE naming the choices otherwise. */
export function resourceOf(name: string): Resource {
  const n = name.toLowerCase();
  const alias: Record<string, Resource> = { job: 'jobs', task: 'tasks', node: 'nodes', daemonset: 'daemonsets', ds: 'daemonsets', cronjob: 'cronjobs', cj: 'cronjobs' };
  const r = (GET_RESOURCES as readonly string[]).includes(n) ? (n as Resource) : alias[n];
  if (!r) throw new GitcellError('E_USAGE', `unknown resource "${name}": expected one of ${GET_RESOURCES.join(', ')}`, { resource: name });
  return r;
}

/** TaskRow is a task with its binding and the state its agent reports (`get tasks -o json`). */
export interface TaskRow {
  spec: TaskSpec;
  node?: string;
  state: TaskStatus['state'] | 'unscheduled' | 'unknown';
  ready: boolean;
  status?: TaskStatus;
}

/** listTasks joins tasks, bindings and statuses. */
export async function listTasks(store: ClientStore): Promise<TaskRow[]> {
  const [tasks, bindings, statuses] = await Promise.all([store.tasks.list(), store.bindings.list(), store.status.list()]);
  const bindingOf = new Map<string, Binding>(bindings.map((b) => [b.key, b.value]));
  const statusOf = new Map<string, TaskStatus>(statuses.map((s) => [s.key, s.value]));
  return tasks
    .map((t) => {
      const b = bindingOf.get(t.key);
      const node = b?.node ?? t.value.nodeName;
      const st = node ? statusOf.get(statusKey(node, t.key)) : undefined;
      const state: TaskRow['state'] = st?.state ?? (b ? 'unknown' : 'unscheduled');
      return { spec: t.value, ...(node ? { node } : {}), state, ready: st?.ready ?? false, ...(st ? { status: st } : {}) };
    })
    .sort((a, b) => (a.spec.jobKey + a.spec.index).localeCompare(b.spec.jobKey + b.spec.index));
}

async function workloads(store: ClientStore, kind: 'Job' | 'DaemonSet'): Promise<{ rec: DesiredRecord; status?: WorkloadStatus }[]> {
  const recs = (await store.desired.list(kind)).map((r) => r.value);
  return Promise.all(
    recs.map(async (rec) => {
      const ns = rec.object.metadata.namespace ?? DEFAULT_NAMESPACE;
      const st = (await store.sync.get(objectStatusKey(kind, ns, rec.object.metadata.name)))?.value as WorkloadStatus | undefined;
      return { rec, ...(st ? { status: st } : {}) };
    }),
  );
}

/** registerGet adds `gitcell get jobs|tasks|nodes|daemonsets|cronjobs [-o json]`. */
export function registerGet(program: Command): void {
  addClusterOptions(
    program
      .command('get')
      .description(`list ${GET_RESOURCES.join(', ')}`)
      .argument('<resource>', GET_RESOURCES.join('|'))
      .option('-o, --output <format>', 'table or json'),
  ).action(async (name: string, opts: ClientOptions & { output?: string }) => {
    const resource = resourceOf(name);
    const format = outputFormat(opts.output);
    const out = await withStore(opts, 'get', async (store) => {
      switch (resource) {
        case 'tasks': {
          const rows = await listTasks(store);
          if (format === 'json') return rows;
          return table(
            ['ID', 'JOB', 'NODE', 'STATE', 'READY', 'RESTARTS', 'IMAGE', 'AGE'],
            rows.map((r) => [r.spec.id, r.spec.jobKey, r.node ?? '-', r.state, r.ready ? 'yes' : 'no', r.status?.restarts ?? 0, r.spec.template.image, age(r.spec.createdAt)]),
          );
        }
        case 'jobs':
        case 'daemonsets': {
          const rows = await workloads(store, resource === 'jobs' ? 'Job' : 'DaemonSet');
          if (format === 'json') return rows.map((r) => ({ object: r.rec.object, generation: r.rec.generation, revision: r.rec.revision, status: r.status }));
          return table(
            ['NAMESPACE', 'NAME', ...(resource === 'jobs' ? ['TYPE'] : []), 'READY', 'UP-TO-DATE', 'GEN', 'ROLLOUT', 'REVISION', 'AGE'],
            rows.map(({ rec, status }) => [
              rec.object.metadata.namespace ?? DEFAULT_NAMESPACE,
              rec.object.metadata.name,
              ...(resource === 'jobs' ? [(rec.object.spec as { type?: string }).type ?? '-'] : []),
              status ? `${status.ready}/${status.desired}` : '-',
              status?.updated ?? '-',
              rec.generation,
              status?.rollout?.phase ?? status?.batch?.phase ?? '-',
              rec.revision.slice(0, 12),
              age(rec.updatedAt),
            ]),
          );
        }
        case 'cronjobs': {
          const recs = (await store.desired.list('CronJob')).map((r) => r.value);
          const rows = await Promise.all(
            recs.map(async (rec) => {
              const ns = rec.object.metadata.namespace ?? DEFAULT_NAMESPACE;
              const st = (await store.sync.get(objectStatusKey('CronJob', ns, rec.object.metadata.name)))?.value as CronJobStatus | undefined;
              return { rec, status: st };
            }),
          );
          if (format === 'json') return rows.map((r) => ({ object: r.rec.object, generation: r.rec.generation, status: r.status }));
          return table(
            ['NAMESPACE', 'NAME', 'SCHEDULE', 'SUSPEND', 'ACTIVE', 'LAST SCHEDULE', 'NEXT'],
            rows.map(({ rec, status }) => {
              const spec = rec.object.spec as { schedule?: string; suspend?: boolean; timeZone?: string };
              return [rec.object.metadata.namespace ?? DEFAULT_NAMESPACE, rec.object.metadata.name, `${spec.schedule ?? ''}${spec.timeZone ? ` (${spec.timeZone})` : ''}`, spec.suspend ? 'yes' : 'no', status?.active.length ?? 0, age(status?.lastScheduleTime), status?.nextScheduleTime ?? '-'];
            }),
          );
        }
        case 'nodes': {
          const [nodes, specs, tasks] = await Promise.all([store.nodes.list(), store.nodespec.list(), listTasks(store)]);
          const specOf = new Map(specs.map((s) => [s.key, s.value]));
          const now = Date.now();
          const rows = nodes.map((n) => {
            const spec = specOf.get(n.key);
            const on = tasks.filter((t) => t.node === n.key);
            const used = on.reduce((a, t) => ({ cpu: a.cpu + t.spec.template.resources.requests.cpuMillis, mem: a.mem + t.spec.template.resources.requests.memoryBytes }), { cpu: 0, mem: 0 });
            return { node: n.value, spec, ready: nodeIsLive(n.value, now, DEFAULT_NODE_GRACE_MS), tasks: on.length, requested: { cpuMillis: used.cpu, memoryBytes: used.mem } };
          });
          if (format === 'json') return rows;
          const mib = (b: number) => `${Math.round(b / 2 ** 20)}Mi`;
          return table(
            ['NAME', 'READY', 'SCHEDULING', 'TASKS', 'CPU (req/alloc)', 'MEMORY (req/alloc)', 'HEARTBEAT'],
            rows.map((r) => [
              r.node.name,
              r.ready ? 'yes' : 'no',
              r.spec?.draining ? 'draining' : r.spec?.cordoned ? 'cordoned' : 'enabled',
              `${r.tasks}/${maxTasks(r.node.allocatable) ?? '-'}`,
              `${r.requested.cpuMillis}m/${r.node.allocatable.cpuMillis}m`,
              `${mib(r.requested.memoryBytes)}/${mib(r.node.allocatable.memoryBytes)}`,
              age(r.node.heartbeatAt),
            ]),
          );
        }
      }
    });
    if (typeof out === 'string') process.stdout.write(out);
    else printJson(out);
  });
}
