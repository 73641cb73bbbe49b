/**
 * The components `gitcell up` starts, and with what flags: the agents of the simulated nodes (one
 * child process; with --isolated-nodes one per node, in its namespace) as soon as the buckets
 * exist, then the control plane (scheduler, then reconciler, dashboard hosted in up's process;
 * Prometheus and Alertmanager as children). run.ts decides when.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Logger } from '../../lib/log.ts';
import { writeExternalCluster } from '../../store/index.ts';
import { Supervisor } from './supervisor.ts';
import { HostedComponent, type AgentsSpec } from './host.ts';
import type { UpMonitoring } from './monitoring.ts';
import { componentIdentity, nodeBridge, nodeCgroupParent, nodeName, nodeNetnsPrefix } from './naming.ts';
import { nodeCommand, type IsolatedNodes } from './isolated.ts';
import type { ClusterIdentities } from './credentials.ts';
import { COMPONENT_NODE_FLAGS } from '../../lib/process.ts';
import type { UpOptions } from './run.ts';
import { SAMPLE_IMAGE } from './images.ts';

/** UpComponents is what starting the components reads of one `gitcell up`, and where they are kept. */
export interface UpComponents {
  readonly o: UpOptions;
  readonly stateDir: string;
  readonly nodes: string[];
  readonly pidDir: string;
  readonly log: Logger;
  readonly ids: ClusterIdentities;
  readonly natsUrl: string | undefined;
  readonly controlCreds: string | undefined;
  readonly replicas: number;
  readonly isolated: IsolatedNodes | undefined;
  readonly monitoring: UpMonitoring | undefined;
  readonly dashboardListen: string | undefined;
  /** every component started: a child process (Supervisor) or hosted in up's process (HostedComponent) */
  readonly supervisors: Array<Supervisor | HostedComponent>;
}

/**
 * BIN is what the components run: the compiled entry of the build this `up` runs from (every
 * restart runs the same code), or cli/bin.js when `up` itself runs from the TypeScript sources.
 */
const BIN = import.meta.url.endsWith('.js')
  ? join(dirname(fileURLToPath(import.meta.url)), '..', 'entry.js')
  : join(dirname(fileURLToPath(import.meta.url)), '..', 'bin.js');

/** agentArgs are the flags of the i-th simulated node's agent. Pure. */
export function agentArgs(o: { i: number; natsUrl: string; seedFile: string; stateDir: string; capacity: string; prefix: string }): string[] {
  const node = nodeName(o.i);
  // Bridge, netns and cgroup names carry the cluster's tag: two `up`s on one machine never share one.
  // No --subnet: the reconciler allocates each node's from --cluster-cidr (clusterCidr).
  return [
    'agent', '--node', node, '--nats', o.natsUrl, '--creds', o.seedFile, '--cluster-dir', o.stateDir,
    '--node-dir', join(o.stateDir, 'nodes', node), '--image-cache', join(o.stateDir, 'images'),
    '--bridge', nodeBridge(o.stateDir, node),
    '--cgroup-parent', nodeCgroupParent(o.stateDir, node), '--netns-prefix', nodeNetnsPrefix(o.stateDir, node), '--capacity', o.capacity, '--labels', `gitcell.io/node=${node},zone=zone-${((o.i - 1) % 3) + 1}`,
    '--prefix', o.prefix, '--stop-tasks-on-exit',
    // The image up imports for sample-repo: unpacked while the agent starts (its subnet waits for the
    // reconciler), not after the first binding, on the thread all the agents share.
    '--warm-image', SAMPLE_IMAGE,
  ];
}

/** clusterCidr is where the reconciler allocates the nodes' task subnets (a /24 each): <subnetBase>.0.0/16. Pure. */
export function clusterCidr(subnetBase: string): string {
  return `${subnetBase}.0.0/16`;
}

const logFile = (c: UpComponents, name: string): string => join(c.stateDir, 'logs', `${name}.log`);

/** supervise starts a component as a child process (a gitcell command unless `command` is given), restarted when it ends. */
function supervise(c: UpComponents, name: string, args: string[], stopGraceMs = 20_000, command?: string, startToStop = false): void {
  const s = new Supervisor({ name, args: command ? args : [...COMPONENT_NODE_FLAGS, BIN, ...args], ...(command ? { command } : {}), logFile: logFile(c, name), pidDir: c.pidDir, stopGraceMs, startToStop, log: c.log });
  c.supervisors.push(s);
  s.start();
}

/** host starts a component in this process (host.ts). */
function host(c: UpComponents, name: string, args: string[]): void {
  const s = new HostedComponent({ name, args, logFile: logFile(c, name), pidDir: c.pidDir, log: c.log });
  c.supervisors.push(s);
  s.start();
}

/**
 * startAgents starts the agents of the simulated nodes in one child process (with
 * --isolated-nodes one per node, in its namespace), as soon as the buckets exist: loading the
 * process and registering the nodes overlap the repository, images and control plane.
 */
export function startAgents(c: UpComponents): void {
const { o, stateDir } = c;
const natsUrl = c.natsUrl!;
  // External NATS with --creds: the agents use them too (the server knows nothing of up's per-node seeds).
  const agents = c.nodes.map((node, i) => ({
    name: `agent-${node}`,
    args: agentArgs({ i: i + 1, natsUrl, seedFile: (o.nats && o.creds) || c.ids.agentSeedFiles.get(node)!, stateDir, capacity: o.capacity, prefix: o.prefix }),
    logFile: logFile(c, `agent-${node}`),
  }));
  if (c.isolated) {
    for (const a of agents) {
      const cmd = nodeCommand(c.isolated, a.name.slice('agent-'.length), [process.execPath, ...COMPONENT_NODE_FLAGS, BIN, ...a.args]);
      supervise(c, a.name, cmd.args, 90_000, cmd.command, true);
    }
  } else {
    // One process for every agent: its watchdog ends it (and so every agent stops its tasks) when up dies.
    const spec: AgentsSpec = { pidDir: c.pidDir, agents };
    const specFile = join(stateDir, 'agents.json');
    writeFileSync(specFile, `${JSON.stringify(spec, null, 2)}\n`);
    supervise(c, 'agents', ['up', '--host-agents', specFile, '--cluster-dir', stateDir], 120_000, undefined, true);
  }
}

/** controlFlags are the flags the reconciler and the scheduler share: NATS, credentials, prefix, replicas. */
function controlFlags(c: UpComponents): string[] {
  const { o, controlCreds } = c;
  return ['--nats', c.natsUrl!, ...(controlCreds ? ['--creds', controlCreds] : []), '--prefix', o.prefix, '--replicas', String(c.replicas)];
}

/**
 * startScheduler starts the scheduler in this process (its own connection, identity, log and
 * restarts: host.ts). It reads no repository: up starts it before making one.
 */
export function startScheduler(c: UpComponents): void {
  host(c, 'scheduler', ['scheduler', '--cluster-dir', c.stateDir, '--identity', componentIdentity(c.stateDir, 'scheduler'), '--http', c.monitoring!.schedulerHttp, ...controlFlags(c)]);
}

/**
 * startControlPlane starts the reconciler in this process (as the scheduler: host.ts), and
 * Prometheus and Alertmanager as children.
 */
export function startControlPlane(c: UpComponents, repo: string): void {
const { o, stateDir, controlCreds } = c;
const common = controlFlags(c);
const mon = c.monitoring!;
  // Stable identities: a restarted reconciler or scheduler takes its lease back at once. The
  // reconciler knows how many nodes there are: on a new or rebuilt store, tasks are created once
  // all of them registered (and re-reported what they run).
  host(c, 'reconciler', ['reconciler', '--repo', repo, '--cluster-dir', stateDir, '--identity', componentIdentity(stateDir, 'reconciler'), '--expect-nodes', String(o.nodes),
    '--cluster-cidr', clusterCidr(o.subnetBase), '--http', mon.reconcilerHttp, '--scrape', `scheduler=http://${mon.schedulerHttp}`, '--prometheus-url', mon.prometheusUrl, ...mon.reconcilerFlags, ...common,
    // The autoscaler connects as itself: the control plane may not write live counts.
    ...(o.nats ? (o.autoscalerCreds ? ['--autoscaler-creds', o.autoscalerCreds] : []) : ['--autoscaler-creds', c.ids.autoscalerSeedFile])]);
  if (mon.prometheus) supervise(c, 'prometheus', mon.prometheus.args, 20_000, mon.prometheus.command);
  if (mon.alertmanager) supervise(c, 'alertmanager', mon.alertmanager.args, 20_000, mon.alertmanager.command);
  // Clients find an embedded server through the state dir; an external one only through its URLs.
  // Client commands find an external cluster through the state dir too, while this up runs.
  if (o.nats) writeExternalCluster(stateDir, { nats: o.nats, ...(controlCreds ? { creds: controlCreds } : {}) });
}

/**
 * startDashboard starts the dashboard in this process, reading as the viewer (an external cluster:
 * with the credentials given). run.ts starts it once the first task runs: its modules (about half a
 * CPU-second) would otherwise load on the event loop the reconciler and scheduler share, while the
 * cluster comes up.
 */
export function startDashboard(c: UpComponents, repo: string): void {
  const { o, controlCreds } = c;
  const mon = c.monitoring!;
  const viewerCreds = o.nats ? controlCreds : c.ids.viewerSeedFile;
  host(c, 'dashboard', ['dashboard', '--nats', c.natsUrl!, ...(viewerCreds ? ['--creds', viewerCreds] : []), '--prefix', o.prefix, '--listen', c.dashboardListen!,
    ...(existsSync(repo) ? ['--repo', repo] : []), '--prometheus', mon.prometheusUrl, '--alertmanager', mon.alertmanagerUrl]);
}
