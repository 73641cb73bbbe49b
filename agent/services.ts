/**
 * NodeServices: the agent's share of Services. It follows the `services` bucket (read only) and
 * programs the node from it: nftables load balancing (runtime/services NftApplier, deltas that never
 * touch endpoints that stay) and the node's DNS (dnsmasq answering `<name>.<ns>.svc.cluster.local`).
 * It tells the rest of the agent three things (the ServicesPort): the node condition ServicesReady,
 * the resolver a new task gets, and when a stopping task has left every endpoint list here.
 *
 *   services bucket ─► Informer ─► program (debounced, one at a time): lbServices ► NftApplier.apply
 *                                                                    dnsEntries ► Dnsmasq.update
 *                                  ├─ ok: ServicesReady True, programmed endpoints remembered
 *                                  └─ failure: ServicesReady False (reason), retried with backoff;
 *                                     nft applies whole transactions, so the table is never half-programmed
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { NodeCondition, ServiceRecord } from '../api/index.ts';
import { Backoff, errorMessage, formatIpv4, parseIpv4Cidr, type Logger } from '../lib/index.ts';
import { Informer, type InformerSource } from '../store/index.ts';
import { CLUSTER_DOMAIN, Dnsmasq, NftApplier, renderHosts, serviceDnsName, type DnsEntry, type LbConfig, type LbService } from '../runtime/index.ts';
import type { ServicesPort, TaskDns } from './port.ts';
import { claimTable, releaseTable, sweepStaleTables } from './services-owners.ts';

/** SERVICES_READY is the node condition type NodeServices reports. */
export const SERVICES_READY = 'ServicesReady';

/** NodeServicesOptions: the bucket to follow, the node's programmers, and its task network. */
export interface NodeServicesOptions {
  services: InformerSource<ServiceRecord>;
  nft: Pick<NftApplier, 'check' | 'apply' | 'remove' | 'close'>;
  /** the node's DNS server; absent: tasks keep the host's resolver */
  dns?: Pick<Dnsmasq, 'start' | 'update' | 'stop' | 'running'>;
  /** the address tasks reach the node's DNS on (the bridge gateway) */
  dnsAddress?: string;
  /** nft masquerading context (see LbConfig) */
  lb?: Omit<LbConfig, 'table' | 'services'>;
  log: Logger;
  /** told when the condition changes (the agent heartbeats it at once) */
  onCondition?: (c: NodeCondition) => void;
  /** told after every successful programming with the records now in force (benchmarks, metrics) */
  onProgrammed?: (records: readonly ServiceRecord[]) => void;
  /** how long a stopping task waits to leave the endpoints here before its SIGTERM (default 2 s) */
  drainTimeoutMs?: number;
  /** run first at start (record this table's owner, sweep those of agents gone for good); a failure is only logged */
  prepare?: () => Promise<void>;
  /** told once the table was removed for good (stop with removeTable) */
  released?: () => void;
}

/** lbServices turns records into what nft programs: VIP or NodePort services with their endpoints, pure. */
export function lbServices(records: Iterable<ServiceRecord>): LbService[] {
  const out: LbService[] = [];
  for (const r of records) {
    const hasNodePort = r.ports.some((p) => p.nodePort !== undefined);
    if (!r.clusterIP && !hasNodePort) continue; // headless: DNS only
    out.push({
      id: `${r.namespace}/${r.name}`,
      ...(r.clusterIP ? { vip: r.clusterIP } : {}),
      ports: r.ports.map((p) => ({
        name: p.name, protocol: p.protocol, port: p.port, ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
        endpoints: r.endpoints.flatMap((e) => (e.ports[p.name] !== undefined ? [{ ip: e.ip, port: e.ports[p.name]! }] : [])),
      })),
    });
  }
  return out;
}

/** dnsEntries turns records into names: a VIP for each Service, the ready task IPs for a headless one, pure. */
export function dnsEntries(records: Iterable<ServiceRecord>, domain = CLUSTER_DOMAIN): DnsEntry[] {
  const out: DnsEntry[] = [];
  for (const r of records) {
    const addresses = r.headless ? [...new Set(r.endpoints.map((e) => e.ip))] : r.clusterIP ? [r.clusterIP] : [];
    if (addresses.length) out.push({ name: serviceDnsName(r.namespace, r.name, domain), addresses });
  }
  return out;
}

/** taskDns is the resolver of a task in `namespace`: Kubernetes' search path and ndots. */
export function taskDns(nameserver: string, namespace: string, domain = CLUSTER_DOMAIN): TaskDns {
  return { nameservers: [nameserver], search: [`${namespace}.svc.${domain}`, `svc.${domain}`, domain], options: ['ndots:5'] };
}

/** NodeServices: see the file comment. */
export class NodeServices implements ServicesPort {
  private readonly stop$ = new AbortController();
  private informer: Informer<ServiceRecord> | undefined;
  private cond: NodeCondition;
  /** task ids that are endpoints in the table as last programmed */
  private programmed = new Set<string>();
  private readonly waiters = new Set<() => void>();
  private busy = false;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  /** the programming pass under way, if any: stop() waits for it (a late `nft -f` would make the removed table again) */
  private pass: Promise<void> | undefined;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  private lastHosts: string | undefined;

  constructor(private readonly o: NodeServicesOptions) {
    this.cond = condition('False', 'Starting', 'services not programmed yet');
  }

  /**
   * start checks nft and starts the DNS server, then follows the bucket. A missing nft is not fatal
   * to the agent: the node runs tasks and reports ServicesReady False with the reason. A DNS server
   * that does not start (its address taken, say) is no reason to leave the VIPs unprogrammed: every
   * programming pass starts it again, with backoff, until it runs.
   */
  async start(): Promise<void> {
    await this.o.prepare?.().catch((err: unknown) => this.o.log.warn({ err: errorMessage(err) }, 'agent: preparing the services table failed'));
    try {
      await this.o.nft.check();
    } catch (err) {
      this.setCondition(condition('False', 'Unavailable', errorMessage(err)));
      this.o.log.error({ err: errorMessage(err) }, 'agent: services unavailable on this node');
      return;
    }
    try {
      await this.o.dns?.start(renderHosts([]));
      this.lastHosts = '';
    } catch (err) {
      this.setCondition(condition('False', 'DnsFailed', errorMessage(err)));
      this.o.log.error({ err: errorMessage(err) }, 'agent: the node\'s DNS server did not start; Services are programmed without it, DNS is retried');
    }
    this.informer = new Informer<ServiceRecord>(this.o.services, { signal: this.stop$.signal, log: this.o.log, onChange: () => this.schedule(5) });
  }

  /** firstProgrammed resolves once the first programming after the bucket's snapshot is done or failed (tests). */
  async firstProgrammed(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.cond.reason === 'Starting' && Date.now() < deadline && !this.stop$.signal.aborted) await new Promise((r) => setTimeout(r, 20));
  }

  /** conditions are the node conditions to report (ServicesReady). */
  conditions(): NodeCondition[] {
    return [this.cond];
  }

  /** dnsFor is the resolver a new task of `namespace` gets, while the node's DNS runs. */
  dnsFor(namespace: string): TaskDns | undefined {
    if (!this.o.dns || !this.o.dnsAddress || !this.o.dns.running) return undefined;
    return taskDns(this.o.dnsAddress, namespace);
  }

  /**
   * beforeStop resolves once `taskId` is no endpoint in this node's table (the endpoints controller
   * dropped it on seeing it stop, and this node programmed that), or after the drain timeout: so no
   * new connection reaches a task after its SIGTERM. Other nodes follow the same record at once.
   */
  async beforeStop(taskId: string): Promise<void> {
    if (!this.informer) return;
    const deadline = Date.now() + (this.o.drainTimeoutMs ?? 2000);
    while (this.isEndpoint(taskId) && Date.now() < deadline && !this.stop$.signal.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.max(1, deadline - Date.now()));
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.waiters.add(done);
      });
    }
  }

  /** stop ends the follow and dnsmasq; `removeTable` also deletes the nft table (else it keeps serving until the next agent). */
  async stop(opts: { removeTable?: boolean } = {}): Promise<void> {
    this.stop$.abort();
    clearTimeout(this.timer);
    for (const w of this.waiters) w();
    await this.informer?.done;
    await this.pass;
    await this.o.dns?.stop();
    if (opts.removeTable) {
      await this.o.nft.remove();
      this.o.released?.();
    } else this.o.nft.close();
  }

  /** dnsExited is told that dnsmasq ended on its own: the node is not ready for services until it runs again. */
  dnsExited(why: string): void {
    if (this.stop$.signal.aborted) return;
    this.lastHosts = undefined;
    this.setCondition(condition('False', 'DnsFailed', why));
    this.schedule(this.backoff.next());
  }

  private isEndpoint(taskId: string): boolean {
    if (this.programmed.has(taskId)) return true;
    for (const r of this.informer?.values() ?? []) if (r.endpoints.some((e) => e.taskId === taskId)) return true;
    return false;
  }

  private schedule(delay: number): void {
    if (this.stop$.signal.aborted) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    if (!this.timer) this.timer = setTimeout(() => void (this.pass = this.program()), delay);
  }

  /** program makes nft and DNS match the bucket: one pass at a time, retried with backoff on failure. */
  private async program(): Promise<void> {
    this.timer = undefined;
    if (!this.informer?.hasSynced || this.stop$.signal.aborted) return;
    this.busy = true;
    this.again = false;
    const records = this.informer.values();
    try {
      await this.o.nft.apply({ ...this.o.lb, services: lbServices(records) });
      this.programmed = new Set(records.flatMap((r) => r.endpoints.map((e) => e.taskId)));
      this.o.onProgrammed?.(records);
      // The VIPs work from here on: a DNS server that fails only fails names.
      const dnsProblem = await this.programDns(records);
      if (dnsProblem === undefined) {
        this.backoff.reset();
        this.setCondition(condition('True', 'Programmed', `${records.length} services programmed`));
      } else {
        this.again = true;
        this.setCondition(condition('False', 'DnsFailed', dnsProblem));
      }
    } catch (err) {
      this.lastHosts = undefined;
      this.again = true;
      this.setCondition(condition('False', 'ProgrammingFailed', errorMessage(err)));
      this.o.log.warn({ err: errorMessage(err) }, 'agent: programming services failed; retrying');
    } finally {
      this.busy = false;
      for (const w of [...this.waiters]) {
        this.waiters.delete(w);
        w();
      }
      if (this.again) this.schedule(this.cond.status === 'True' ? 5 : this.backoff.next());
    }
  }

  /** programDns gives the DNS server the records' names, starting it when it is not running; the failure's message, if any. */
  private async programDns(records: readonly ServiceRecord[]): Promise<string | undefined> {
    if (!this.o.dns) return undefined;
    const hosts = renderHosts(dnsEntries(records));
    try {
      if (!this.o.dns.running) await this.o.dns.start(hosts);
      else if (hosts !== this.lastHosts) await this.o.dns.update(hosts);
      this.lastHosts = hosts;
      return undefined;
    } catch (err) {
      this.lastHosts = undefined;
      this.o.log.warn({ err: errorMessage(err) }, 'agent: the node\'s DNS server failed; retrying');
      return errorMessage(err);
    }
  }

  private setCondition(c: NodeCondition): void {
    const changed = c.status !== this.cond.status || c.reason !== this.cond.reason;
    this.cond = changed ? c : { ...c, lastTransitionTime: this.cond.lastTransitionTime };
    if (changed) this.o.onCondition?.(this.cond);
  }
}

function condition(status: NodeCondition['status'], reason: string, message: string): NodeCondition {
  return { type: SERVICES_READY, status, reason, message, lastTransitionTime: new Date().toISOString() };
}

/** NodeServicesSetup is what createNodeServices needs to know of the node. */
export interface NodeServicesSetup {
  node: string;
  /** the agent's state directory (absolute): with the node name it makes the machine-global names */
  stateDir: string;
  /** the node's task subnet and bridge: dnsmasq listens on the gateway (`.1`), nft masquerades hairpins */
  subnet: string;
  bridge: string;
  services: InformerSource<ServiceRecord>;
  log: Logger;
  /** the range every node's task subnet comes from (the control plane's allocation): task traffic leaving it is masqueraded */
  clusterCidr?: string;
  /** the host's /etc/resolv.conf text: its non-loopback nameservers answer names outside the cluster */
  hostResolvConf?: string;
}

/**
 * nodeTableName is the node's nft table, `gc_<10 hex>` of its state directory and name: tables are
 * machine-global and two clusters on one machine (tests, `gitcell up`) may both have a "node-1".
 */
export function nodeTableName(node: string, stateDir: string): string {
  return `gc_${createHash('sha256').update(`${stateDir}\0${node}`).digest('hex').slice(0, 10)}`;
}

/** DNS_RUN_DIR holds each node's dnsmasq files: under /run (0755) so dnsmasq, as nobody, can reread them. */
export const DNS_RUN_DIR = '/run/gitcell/dns';

/** createNodeServices builds a node's NodeServices from the real parts: nft table and dnsmasq on the bridge gateway. */
export function createNodeServices(s: NodeServicesSetup): NodeServices {
  const { network } = parseIpv4Cidr(s.subnet, 'subnet');
  const gateway = formatIpv4(network + 1);
  const upstreams = (s.hostResolvConf ?? '').split('\n').map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1]).filter((a): a is string => !!a && !/^(127\.|::1$)/.test(a));
  let services!: NodeServices;
  const table = nodeTableName(s.node, s.stateDir);
  const dns = new Dnsmasq({ dir: join(DNS_RUN_DIR, table), listen: gateway, upstreams, onExit: (why) => services.dnsExited(why) });
  services = new NodeServices({
    services: s.services, nft: new NftApplier({ table }), dns, dnsAddress: gateway,
    lb: { local: { subnet: s.subnet, bridge: s.bridge }, ...(s.clusterCidr ? { clusterCidr: s.clusterCidr, masqueradeOutbound: true } : {}) }, log: s.log,
    prepare: async () => {
      claimTable(table, s.stateDir);
      await sweepStaleTables({ own: table, dnsRunDir: DNS_RUN_DIR, log: s.log });
    },
    released: () => releaseTable(table),
  });
  return services;
}
