/**
 * Prometheus HTTP service discovery (`http_sd_configs`) from the store: the control plane, every
 * agent that published its metrics address, and every running task port named `metrics`, each
 * labelled with what a query groups by (namespace, job, task, node, template). Every target has a
 * `component` label (reconciler, scheduler, agent, task), so a task's own series can never set it
 * (prometheus.ts trusts component="agent" to relabel the agents' per-task series). Pure: the reconciler
 * serves it at `/sd` from informers of the nodes, tasks and status buckets.
 */
import type { NodeRecord, TaskSpec, TaskStatus } from '../../api/index.ts';

/** SdTargetGroup is one entry of Prometheus' HTTP SD format. */
export interface SdTargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** METRICS_PORT_NAME: a task port with this name is scraped. */
export const METRICS_PORT_NAME = 'metrics';

/** ControlPlaneTarget is a component's metrics endpoint (`host:port`) and its role. */
export interface ControlPlaneTarget {
  component: 'reconciler' | 'scheduler' | string;
  address: string;
}

/** SdInput is what discovery reads. */
export interface SdInput {
  controlPlane: readonly ControlPlaneTarget[];
  nodes: Iterable<NodeRecord>;
  tasks: Iterable<TaskSpec>;
  /** task statuses as their nodes reported them */
  statuses: Iterable<TaskStatus>;
}

/** hostPortOf turns http://host:port into host:port (Prometheus targets have no scheme). */
export function hostPortOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.port ? `${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port}` : undefined;
  } catch {
    return undefined;
  }
}

/** discoverTargets lists every target, sorted, in Prometheus' HTTP SD shape. */
export function discoverTargets(input: SdInput): SdTargetGroup[] {
  const out: SdTargetGroup[] = [];
  for (const c of input.controlPlane) out.push({ targets: [c.address], labels: { job: `gitcell-${c.component}`, component: c.component } });
  for (const n of input.nodes) {
    const address = n.metricsUrl ? hostPortOf(n.metricsUrl) : undefined;
    if (address) out.push({ targets: [address], labels: { job: 'gitcell-agent', component: 'agent', node: n.name } });
  }
  const running = new Map<string, TaskStatus>();
  for (const s of input.statuses) if (s.state === 'running' && s.ip) running.set(s.taskId, s);
  for (const t of input.tasks) {
    const port = t.template.ports.find((p) => p.name === METRICS_PORT_NAME && p.protocol === 'TCP');
    const s = running.get(t.id);
    if (!port || !s || s.templateHash !== t.templateHash) continue;
    out.push({
      targets: [`${s.ip}:${port.containerPort}`],
      labels: { job: t.owner.name, component: 'task', namespace: t.namespace, owner_kind: t.owner.kind, task: t.id, node: s.node, template: t.templateHash },
    });
  }
  return out.sort((a, b) => (a.targets[0]! < b.targets[0]! ? -1 : a.targets[0]! > b.targets[0]! ? 1 : 0));
}
