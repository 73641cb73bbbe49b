// A node's cluster DNS: Debian's dnsmasq, started and stopped by its caller, answering the
// Service names from a hosts file the caller rewrites (renderHosts, then SIGHUP). No DNS protocol
// code of our own: dnsmasq does all of it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { ErrorCodes, NetworkError, writeFileAtomic } from '../../lib/index.ts';
import { processAlive, WATCHDOG_SCRIPT } from '../../lib/process.ts';

/** CLUSTER_DOMAIN is the zone Service names live in: `<name>.<namespace>.svc.cluster.local`. */
export const CLUSTER_DOMAIN = 'cluster.local';

/** DnsEntry is one name and the addresses it answers with (a VIP, or a headless Service's task IPs). */
export interface DnsEntry {
  name: string;
  addresses: string[];
}

/** serviceDnsName is the name of a Service: `<name>.<namespace>.svc.cluster.local`. */
export function serviceDnsName(namespace: string, name: string, domain = CLUSTER_DOMAIN): string {
  return `${name}.${namespace}.svc.${domain}`;
}

/** renderHosts writes entries as a hosts file (one line per address, names sorted), pure. */
export function renderHosts(entries: readonly DnsEntry[]): string {
  const lines: string[] = [];
  for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    for (const ip of [...e.addresses].sort()) lines.push(`${ip}\t${e.name}`);
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** dnsmasqBinary is the absolute path of Debian's dnsmasq (package dnsmasq-base). */
export function dnsmasqBinary(): string | undefined {
  return ['/usr/sbin/dnsmasq', '/usr/bin/dnsmasq'].find((p) => existsSync(p));
}

/** DnsmasqOptions: where its files live, what it listens on, where other names go. */
export interface DnsmasqOptions {
  /** absolute directory of its hosts file; it and every parent must be searchable by `nobody` */
  dir: string;
  /** the address tasks reach it on (the node bridge's gateway); it binds as the address appears */
  listen: string;
  /** default 53 */
  port?: number;
  /** a named network namespace to run in (tests, isolated nodes) */
  netns?: string;
  /** resolvers for names outside the cluster domain (the host's non-loopback nameservers) */
  upstreams?: string[];
  domain?: string;
  /** told when dnsmasq exits without being asked to */
  onExit?: (why: string) => void;
}

/**
 * Dnsmasq runs one dnsmasq for a node. It answers only from its hosts file for the cluster domain
 * (`--local`, so an unknown Service name is NXDOMAIN at once, never forwarded), with TTL 0 so tasks
 * never cache an old VIP or endpoint, forwards other names to `upstreams`, and drops root for
 * `nobody` once bound.
 */
export class Dnsmasq {
  private child: ChildProcess | undefined;
  /** dnsmasq's own pid (the child is its watchdog shell) */
  private pid: number | undefined;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  readonly hostsFile: string;
  private readonly pidFile: string;

  constructor(private readonly o: DnsmasqOptions) {
    if (!isAbsolute(o.dir)) throw new NetworkError(ErrorCodes.NetworkConfig, `dnsmasq directory "${o.dir}" must be absolute`, { field: 'dir' });
    this.hostsFile = join(o.dir, 'hosts');
    this.pidFile = join(o.dir, 'pid');
  }

  /** running tells whether the process is alive. */
  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * start writes `hosts` and starts dnsmasq; it resolves once dnsmasq has read its configuration
   * (it logs "started" and stays up), and throws E_DNS_START when it is missing or exits.
   */
  async start(hosts: string, timeoutMs = 10_000): Promise<void> {
    const bin = dnsmasqBinary();
    if (!bin) throw new NetworkError(ErrorCodes.DnsStart, 'dnsmasq is not installed (Debian package dnsmasq-base)', {});
    mkdirSync(this.o.dir, { recursive: true, mode: 0o755 });
    assertSearchable(this.o.dir);
    await writeFileAtomic(this.hostsFile, hosts, { mode: 0o644 });
    await this.endStale();
    const args = [
      '--keep-in-foreground', '--conf-file=/dev/null', '--no-hosts', `--addn-hosts=${this.hostsFile}`,
      '--bind-dynamic', `--listen-address=${this.o.listen}`, `--port=${this.o.port ?? 53}`,
      `--local=/${this.o.domain ?? CLUSTER_DOMAIN}/`, '--local-ttl=0', '--no-negcache', '--domain-needed',
      '--no-resolv', ...(this.o.upstreams ?? []).map((u) => `--server=${u}`),
      '--user=nobody', '--group=nogroup', '--pid-file', '--log-facility=-', '--cache-size=0',
    ];
    const [cmd, argv] = this.o.netns ? ['/usr/sbin/ip', ['netns', 'exec', this.o.netns, bin, ...args]] : [bin, args];
    // Under the watchdog: dnsmasq gets SIGTERM when this process ends, however it ends (kill -9
    // too). The watchdog writes dnsmasq's own pid (`ip netns exec` execs it) for signals and for
    // endStale.
    const child = spawn('/bin/sh', ['-c', WATCHDOG_SCRIPT, 'gitcell-dnsmasq', this.pidFile, cmd, ...argv], { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child = child;
    this.stopping = false;
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      if (!this.stopping) this.o.onExit?.(`dnsmasq exited (${signal ?? `code ${code}`}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      resolve();
    }));
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(new NetworkError(ErrorCodes.DnsStart, `dnsmasq did not start: ${why}`, { listen: this.o.listen }));
      };
      const timer = setTimeout(() => fail(`no "started" within ${timeoutMs} ms: ${stderr.trim()}`), timeoutMs);
      child.once('error', (err) => fail(err.message));
      child.once('exit', () => fail(stderr.trim() || 'exited'));
      child.stderr!.on('data', (d: string) => {
        stderr = (stderr + d).slice(-4000);
        if (/started, version/.test(stderr)) {
          clearTimeout(timer);
          try {
            this.pid = Number(readFileSync(this.pidFile, 'utf8').trim());
            resolve();
          } catch (err) {
            fail(`no pid file ${this.pidFile}: ${String(err)}`);
          }
        }
      });
    });
  }

  /** update rewrites the hosts file atomically and tells dnsmasq to read it again (SIGHUP). */
  async update(hosts: string): Promise<void> {
    await writeFileAtomic(this.hostsFile, hosts, { mode: 0o644 });
    if (!this.running || this.pid === undefined) throw new NetworkError(ErrorCodes.DnsStart, 'dnsmasq is not running', { listen: this.o.listen });
    process.kill(this.pid, 'SIGHUP');
  }

  /**
   * endStale kills the dnsmasq a previous agent of this node left running (killed with -9, it could
   * not stop it): it holds the listen address. Only a process whose command line names this very
   * hosts file is touched.
   */
  private async endStale(): Promise<void> {
    let pid: number;
    try {
      pid = Number(readFileSync(this.pidFile, 'utf8').trim());
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes(`--addn-hosts=${this.hostsFile}`)) return;
    } catch {
      return; // no pid file, or that process is gone
    }
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 5000;
    while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /** stop ends dnsmasq (SIGTERM, SIGKILL after 5 s) and removes its directory (hosts and pid files). */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    this.child = undefined;
    const pid = this.pid;
    this.pid = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const signal = (sig: NodeJS.Signals) => { try { if (pid !== undefined) process.kill(pid, sig); else child.kill(sig); } catch { /* already gone */ } };
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    child?.stdin?.destroy();
    await rm(this.o.dir, { recursive: true, force: true });
  }
}

/** assertSearchable refuses a directory `nobody` cannot reach: dnsmasq rereads its hosts file after dropping root. */
function assertSearchable(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) {
      throw new NetworkError(ErrorCodes.NetworkConfig, `dnsmasq directory ${dir}: ${d} is not searchable by others (dnsmasq reads its hosts file as nobody); chmod o+x it or choose another directory`, { field: 'dir' });
    }
    if (dirname(d) === d) return;
  }
}
