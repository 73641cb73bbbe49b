/**
 * The curated `gitcell describe` of each kind: a summary of aligned fields, conditions, tasks and
 * recent events, as `kubectl describe` — never the raw manifest, never a Secret value or a PEM key
 * (a node's sealing key is shown by its fingerprint). Each function returns the text; the command
 * prints it. Reads the store only.
 */
import { DEFAULT_NAMESPACE, autoscaleKey, maxTasks, type CustomResourceDefinitionSpec, type JobSpec, type TaskTemplate } from '../api/index.ts';
import { isGitcellError, UsageError } from '../lib/errors.ts';
import { desiredKey, eventTokens } from '../store/index.ts';
import { keyIdOf } from '../secrets/envelope.ts';
import { objectStatusKey } from '../reconciler/apply/keys.ts';
import type { Condition, CronJobStatus, DesiredRecord, WorkloadStatus } from '../reconciler/index.ts';
import { age, table, type ClientStore } from './client.ts';
import { listNodes, listTasks, mib, secretKeys, short, taskReason, workloadCells, type TaskRow } from './listings.ts';
import { paint } from './output.ts';
import { describeService } from './services.ts';
import { autoscaleText } from './autoscale.ts';
import { ErrorCodes } from '../lib/error-codes.ts';

/** fields renders label: value lines with the values aligned; undefined values are left out. */
export function fields(pairs: [string, string | number | undefined][], indent = ''): string {
  const shown = pairs.filter((p): p is [string, string | number] => p[1] !== undefined && p[1] !== '');
  const w = Math.max(0, ...shown.map(([k]) => k.length)) + 2;
  return shown.map(([k, v]) => `${indent}${`${k}:`.padEnd(w)}${v}\n`).join('');
}

const kv = (m: Record<string, string> | undefined): string => Object.entries(m ?? {}).map(([k, v]) => `${k}=${v}`).join(', ') || '<none>';
const indent = (s: string): string => s.replace(/^(?=.)/gm, '  ');

/** safeGet reads a key, treating a key the store cannot even hold (E_INVALID_KEY) as absent. */
async function safeGet<T>(get: (key: string) => Promise<{ value: T } | undefined>, key: () => string): Promise<T | undefined> {
  try {
    return (await get(key()))?.value;
  } catch (err) {
    if (isGitcellError(err, ErrorCodes.InvalidKey)) return undefined;
    throw err;
  }
}

function conditionsText(conds: readonly Condition[] | undefined): string {
  if (!conds?.length) return '';
  const rows = conds.map((c) => [c.type, c.status === 'False' && c.type !== 'Reconciling' ? paint(c.status, 'red') : c.status, c.reason, age(c.lastTransitionTime), short(c.message, 80)]);
  return `Conditions:\n${indent(table(['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'], rows))}`;
}

async function eventsText(store: ClientStore, object: { kind: string; namespace?: string; name: string }, limit = 15): Promise<string> {
  const events = await store.events.recent({ limit, prefix: eventTokens({ object }).join('.') });
  if (!events.length) return 'Events: <none>\n';
  const rows = events.map(({ value: e }) => [e.type === 'Warning' ? paint(e.type, 'yellow') : e.type, e.reason, age(e.time), e.source, short(e.message, 100)]);
  return `Events:\n${indent(table(['TYPE', 'REASON', 'AGE', 'FROM', 'MESSAGE'], rows))}`;
}

function tasksText(tasks: readonly TaskRow[], withNode: boolean): string {
  if (!tasks.length) return 'Tasks: <none>\n';
  const rows = tasks.map((t) => [t.spec.id, ...(withNode ? [t.node ?? '-'] : [t.spec.owner.name]), t.state, t.ready ? 'yes' : 'no', t.status?.restarts ?? 0, taskReason(t) || '-', short(t.status?.message ?? '', 60) || '-']);
  return `Tasks (${tasks.length}):\n${indent(table(['ID', withNode ? 'NODE' : 'JOB', 'STATE', 'READY', 'RESTARTS', 'REASON', 'MESSAGE'], rows))}`;
}

function templateText(t: TaskTemplate | undefined): string {
  if (!t) return '';
  const r = t.resources;
  return `Template:\n${fields([
    ['Image', t.image],
    ['Command', [...(t.command ?? []), ...(t.args ?? [])].join(' ') || undefined],
    ['Env', t.env.map((e) => e.name).concat((t.secretEnv ?? []).map((e) => `${e.name} (from secret ${e.secretName})`)).join(', ') || undefined],
    ['Requests', `cpu ${r.requests.cpuMillis}m, memory ${mib(r.requests.memoryBytes)}`],
    ['Limits', r.limits.cpuMillis || r.limits.memoryBytes ? `cpu ${r.limits.cpuMillis ?? '-'}m, memory ${r.limits.memoryBytes ? mib(r.limits.memoryBytes) : '-'}` : undefined],
    ['Ports', t.ports.map((p) => `${p.containerPort}/${p.protocol}${p.hostPort ? ` (host ${p.hostPort})` : ''}`).join(', ') || undefined],
    ['Probes', Object.keys(t.probes).join(', ') || undefined],
    ['Restart policy', t.restartPolicy],
  ], '  ')}`;
}

function header(kind: string, rec: DesiredRecord): string {
  const o = rec.object;
  return fields([
    ['Name', o.metadata.name],
    ['Namespace', o.metadata.namespace ?? DEFAULT_NAMESPACE],
    ['Kind', kind],
    ['Labels', kv(o.metadata.labels)],
    ['Generation', rec.generation],
    ['Revision', `${rec.revision.slice(0, 12)} (${rec.origin.type})`],
    ['Updated', `${age(rec.updatedAt)} ago (${rec.updatedAt})`],
  ]);
}

async function describeWorkload(store: ClientStore, kind: 'Job' | 'DaemonSet', rec: DesiredRecord): Promise<string> {
  const ns = rec.object.metadata.namespace ?? DEFAULT_NAMESPACE;
  const name = rec.object.metadata.name;
  const st = (await store.sync.get(objectStatusKey(kind, ns, name)))?.value as WorkloadStatus | undefined;
  const type = kind === 'Job' ? ((rec.object.spec as { type?: string }).type ?? 'service') : undefined;
  const tasks = (await listTasks(store)).filter((t) => t.spec.jobKey === `${kind}/${ns}/${name}`);
  const c = workloadCells(type, st);
  const ro = st?.rollout;
  let out = header(type ? `${kind} (${type})` : kind, rec);
  out += fields([
    [type === 'batch' ? 'Completions' : 'Ready', c.ready],
    ['Status', c.status],
    ['Reason', c.reason === '-' ? undefined : c.reason],
    ['Tasks', st ? `${st.desired} desired, ${st.current} current, ${st.ready} ready, ${st.updated} up-to-date` : undefined],
    ['Batch', st?.batch ? `${st.batch.succeeded} succeeded, ${st.batch.failed} failed, ${st.batch.active} active` : undefined],
    ['Rollout', ro ? `${ro.phase}, template ${ro.templateHash.slice(0, 10)} of ${ro.revision.slice(0, 12)}, started ${age(ro.startedAt)} ago${ro.completedAt ? `, completed ${age(ro.completedAt)} ago` : ''}` : undefined],
  ]);
  const spec = rec.object.spec as Partial<JobSpec>;
  if (kind === 'Job' && spec.autoscale) out += `\n${autoscaleText(spec, (await store.autoscale.get(autoscaleKey(ns, name)))?.value)}`;
  out += `\n${templateText(tasks[0]?.spec.template)}\n`;
  if (ro?.failed) out += `Failed rollout:\n${fields([['Reason', ro.failed.reason], ['Message', ro.failed.message]], '  ')}\n`;
  out += `${conditionsText(st?.conditions)}\n${tasksText(tasks, true)}\n`;
  return out + (await eventsText(store, { kind, namespace: ns, name }));
}

async function describeCronJob(store: ClientStore, rec: DesiredRecord): Promise<string> {
  const ns = rec.object.metadata.namespace ?? DEFAULT_NAMESPACE;
  const name = rec.object.metadata.name;
  const st = (await store.sync.get(objectStatusKey('CronJob', ns, name)))?.value as CronJobStatus | undefined;
  const spec = rec.object.spec as { schedule: string; timeZone?: string; suspend?: boolean; concurrencyPolicy?: string };
  let out = header('CronJob', rec);
  out += fields([
    ['Schedule', `${spec.schedule}${spec.timeZone ? ` (${spec.timeZone})` : ''}`],
    ['Suspend', spec.suspend ? 'yes' : 'no'],
    ['Concurrency', spec.concurrencyPolicy ?? 'Allow'],
    ['Last schedule', st?.lastScheduleTime ? `${st.lastScheduleTime} (${age(st.lastScheduleTime)} ago)` : '<never>'],
    ['Last success', st?.lastSuccessfulTime],
    ['Next schedule', st?.nextScheduleTime],
    ['Active runs', st?.active.length ? st.active.join(', ') : '<none>'],
    ['Error', st?.error],
  ]);
  return `${out}\n${await eventsText(store, { kind: 'CronJob', namespace: ns, name })}`;
}

function describeSecret(rec: DesiredRecord): string {
  const spec = rec.object.spec as { type?: string; encryptedData?: Record<string, string>; data?: Record<string, string>; stringData?: Record<string, string> };
  const size = (k: string): string => (spec.encryptedData?.[k] !== undefined ? `sealed, ${spec.encryptedData[k]!.length} bytes of ciphertext` : 'plaintext (dev only)');
  const keys = secretKeys(spec);
  return `${header('Secret', rec)}${fields([['Type', spec.type ?? 'Opaque']])}\nData (values hidden):\n${keys.map((k) => `  ${k}: ${size(k)}\n`).join('') || '  <none>\n'}`;
}

/** flatten turns a spec into `path: value` lines (user kinds: their shape is their CRD's business). */
function flatten(v: unknown, path = ''): [string, string][] {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return Object.entries(v).flatMap(([k, x]) => flatten(x, path ? `${path}.${k}` : k));
  if (Array.isArray(v) && v.some((x) => x !== null && typeof x === 'object')) return v.flatMap((x, i) => flatten(x, `${path}[${i}]`));
  return [[path || '(value)', Array.isArray(v) ? v.join(', ') : String(v)]];
}

function describeCustom(kind: string, rec: DesiredRecord): string {
  const spec = rec.object.spec;
  if (kind === 'CustomResourceDefinition') {
    const s = spec as CustomResourceDefinitionSpec;
    return `${header(kind, rec)}${fields([['Group', s.group], ['Names', `kind ${s.names.kind}, plural ${s.names.plural}${s.names.shortNames?.length ? `, short ${s.names.shortNames.join(', ')}` : ''}`], ['Versions', s.versions.map((v) => v.name).join(', ')]])}`;
  }
  return `${header(kind, rec)}${fields([['API version', rec.object.apiVersion]])}\nSpec:\n${fields(flatten(spec), '  ') || '  <none>\n'}`;
}

async function describeNode(store: ClientStore, name: string): Promise<string> {
  const row = (await listNodes(store)).find((r) => r.node.name === name);
  if (!row) throw new UsageError(ErrorCodes.NotFound, `node "${name}" not found`, { kind: 'Node', name });
  const n = row.node;
  const tasks = (await listTasks(store)).filter((t) => t.node === name);
  let out = fields([
    ['Name', n.name],
    ['Ready', row.ready ? 'yes' : paint(`no (no heartbeat for ${age(n.heartbeatAt)}; grace ${row.graceMs / 1000}s)`, 'red')],
    ['Scheduling', row.spec?.draining ? 'draining' : row.spec?.cordoned ? 'cordoned' : 'enabled'],
    ['Labels', kv({ ...n.labels, ...row.spec?.labels })],
    ['Taints', [...n.taints, ...(row.spec?.taints ?? [])].map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`).join(', ') || '<none>'],
    ['Addresses', n.addresses.join(', ') || '<none>'],
    ['Subnet', n.subnet],
    ['Capacity', `cpu ${n.capacity.cpuMillis}m, memory ${mib(n.capacity.memoryBytes)}, tasks ${maxTasks(n.capacity) ?? "no limit"}`],
    ['Allocatable', `cpu ${n.allocatable.cpuMillis}m, memory ${mib(n.allocatable.memoryBytes)}, tasks ${maxTasks(n.allocatable) ?? "no limit"}`],
    ['Requested', `cpu ${row.requested.cpuMillis}m, memory ${mib(row.requested.memoryBytes)}, tasks ${row.tasks}`],
    ['Runtime', `runc ${n.runtime.runc}, kernel ${n.runtime.kernel}, agent ${n.runtime.agentVersion}`],
    ['Images', n.images.length ? `${n.images.length} (${short(n.images.join(', '), 80)})` : '<none>'],
    ['Sealing key', n.sealingKey ? `sha256:${keyIdOf(n.sealingKey)} (key id; the public key itself is in -o json of get nodes)` : '<none>'],
    ['Started', `${n.startedAt} (${age(n.startedAt)} ago)`],
    ['Heartbeat', `${age(n.heartbeatAt)} ago`],
  ]);
  out += `\n${tasksText(tasks, false)}\n`;
  return out + (await eventsText(store, { kind: 'Node', name }));
}

async function describeTask(store: ClientStore, id: string): Promise<string> {
  const all = await listTasks(store);
  const matches = all.filter((t) => t.spec.id === id).concat(all.filter((t) => t.spec.id !== id && t.spec.id.startsWith(id)));
  const t = matches[0];
  if (!t || (matches.length > 1 && t.spec.id !== id)) {
    const hint = matches.length > 1 ? `; "${id}" starts ${matches.length} task ids` : '; `gitcell get tasks -A` lists them';
    throw new UsageError(ErrorCodes.NotFound, `task "${id}" not found${hint}`, { kind: 'Task', name: id });
  }
  const st = t.status;
  let out = fields([
    ['ID', t.spec.id],
    ['Job', `${t.spec.owner.kind}/${t.spec.namespace}/${t.spec.owner.name} (task ${t.spec.index})`],
    ['Node', t.node ?? '<unscheduled>'],
    ['State', t.state],
    ['Ready', t.ready ? 'yes' : 'no'],
    ['Reason', taskReason(t) || undefined],
    ['Message', st?.message],
    ['Restarts', st?.restarts ?? 0],
    ['Exit code', st?.exitCode !== undefined ? `${st.exitCode}${st.oomKilled ? ' (OOM killed)' : ''}` : undefined],
    ['IP', st?.ip],
    ['Started', st?.startedAt],
    ['Finished', st?.finishedAt],
    ['Template', t.spec.templateHash.slice(0, 12)],
    ['Priority', t.spec.priority],
    ['Created', `${age(t.spec.createdAt)} ago`],
  ]);
  out += `\n${templateText(t.spec.template)}\n`;
  return out + (await eventsText(store, { kind: 'Task', name: t.spec.id }));
}

/** describe renders one object of `kind` (a resolved kind name) for `gitcell describe`. */
export async function describe(store: ClientStore, kind: string, namespace: string, name: string): Promise<string> {
  if (kind === 'Node') return describeNode(store, name);
  if (kind === 'Task') return describeTask(store, name);
  // CRDs are cluster-wide: found by name whatever namespace their record carries.
  const cluster = kind === 'CustomResourceDefinition';
  const rec = cluster
    ? (await store.desired.list(kind)).map((r) => r.value).find((r) => r.object.metadata.name === name)
    : await safeGet((k) => store.desired.get(k), () => desiredKey(kind, namespace, name));
  const ns = rec?.object.metadata.namespace ?? namespace;
  if (!rec) throw new UsageError(ErrorCodes.NotFound, `${kind} "${name}" not found${cluster ? '' : ` in namespace ${ns}`}`, { kind, namespace: ns, name });
  if (kind === 'Job' || kind === 'DaemonSet') return describeWorkload(store, kind, rec);
  if (kind === 'CronJob') return describeCronJob(store, rec);
  if (kind === 'Secret') return describeSecret(rec);
  if (kind === 'Service') return (await describeService(store, rec, (pairs) => fields(pairs))) + `\n${await eventsText(store, { kind, namespace: ns, name })}`;
  return describeCustom(kind, rec) + `\n${await eventsText(store, { kind, namespace: ns, name })}`;
}
