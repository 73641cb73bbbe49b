/**
 * Test helpers that run real nats-server processes with JetStream on free loopback ports: one server
 * (startNatsServer) or a three-server cluster (startNatsCluster). Every process and temp dir is
 * removed by stop(); pass a test context (`{ t }`) to have that registered as an after-hook so it
 * also happens when the test fails. A process-exit hook SIGKILLs anything left as a last resort.
 *
 * Over 400 lines on purpose: the single server and the cluster share one ServerProcess (start,
 * readiness, crash report, cleanup); split apart, each would need the other's half.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { clientTlsConfig, clusterConfig, type NatsTls } from '../../store/tls.ts';
import { Backoff, sleep } from '../../lib/backoff.ts';

/** NATS_SERVER_BIN is the nats-server binary the helpers run (override with GITCELL_NATS_SERVER). */
export const NATS_SERVER_BIN = process.env.GITCELL_NATS_SERVER ?? '/usr/sbin/nats-server';

/** Cleanup is anything with an `after(fn)` hook: a node:test TestContext or SuiteContext. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** NatsServerOptions tune one server: `t` registers cleanup, `jetstream: false` turns JetStream off. */
export interface NatsServerOptions {
  t?: Cleanup;
  jetstream?: boolean;
  /** extra lines appended to the generated config file */
  extraConfig?: string;
  /** how the readiness checks connect (credentials, inbox prefix, TLS) to a server that admits no anonymous client */
  probe?: Partial<ConnectionOptions>;
}

/** NatsServer is one running (or stopped) nats-server of a test. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly name: string;
  pid(): number | undefined;
  running(): boolean;
  /** stopping tells whether this helper stopped the server (kill, halt, stop) since it last started. */
  stopping(): boolean;
  /** kill sends SIGKILL (kill -9) and waits for the process to exit; data stays on disk. */
  kill(): Promise<void>;
  /** restart starts the server again on the same port with the same data (after kill or halt). */
  restart(): Promise<void>;
  /** halt stops the server gracefully (SIGTERM) and keeps its data. */
  halt(): Promise<void>;
  /** stop kills the server and removes its temp dir; safe to call twice. */
  stop(): Promise<void>;
  /** log returns what the server wrote so far (for failure messages). */
  log(): Promise<string>;
}

/** NatsCluster is a three-server (or n-server) JetStream cluster on loopback. */
export interface NatsCluster {
  readonly urls: string[];
  /** url is all client URLs comma-joined, the form `--nats` takes. */
  readonly url: string;
  readonly servers: NatsServer[];
  /** host:port of each server's route listener */
  readonly routes: string[];
  kill(i: number): Promise<void>;
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) {
      try {
        c.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function checkBinary(): void {
  const r = spawnSync(NATS_SERVER_BIN, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `nats-server not runnable at ${NATS_SERVER_BIN} (${r.error?.message ?? r.stderr}); install the Debian package nats-server (scripts/bootstrap.sh)`,
    );
  }
}

/** freePort asks the kernel for a free TCP port on 127.0.0.1 (tiny race window: callers retry). */
export { freePort } from '../../lib/net.ts';
import { freePort } from '../../lib/net.ts';

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (const backoff = new Backoff({ initialMs: 20, maxMs: 250 }); ; ) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${String(lastErr)}` : ''}`);
    }
    await sleep(backoff.next());
  }
}

/** jetStreamReady resolves once the servers at `urls` answer JetStream API requests (meta leader elected). */
export async function jetStreamReady(urls: string[], timeoutMs = 30_000, probe: Partial<ConnectionOptions> = {}): Promise<void> {
  for (const url of urls) {
    await waitFor(`JetStream on ${url}`, timeoutMs, async () => {
      const nc = await connect({ ...probe, servers: url, reconnect: false, timeout: 1000 });
      try {
        const jsm = await jetstreamManager(nc, { timeout: 1000 });
        await jsm.getAccountInfo();
        return true;
      } finally {
        await nc.close().catch(() => undefined);
      }
    });
  }
}

/**
 * clusterPlacementReady waits until the meta leader knows enough peers to place a stream with
 * `replicas` replicas (right after start it may answer API requests before all peers joined).
 */
export async function clusterPlacementReady(url: string, replicas: number, timeoutMs = 30_000, probe: Partial<ConnectionOptions> = {}): Promise<void> {
  const nc = await connect({ ...probe, servers: url, timeout: 1000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 2000 });
    const name = `READY_${randomBytes(4).toString('hex')}`;
    await waitFor(`placement of an R${replicas} stream`, timeoutMs, async () => {
      await jsm.streams.add({ name, subjects: [`_ready.${name}`], num_replicas: replicas, storage: StorageType.Memory });
      await jsm.streams.delete(name);
      return true;
    });
  } finally {
    await nc.close().catch(() => undefined);
  }
}

interface ServerSpec {
  name: string;
  dir: string;
  port: number;
  config: string;
}

class ServerProcess implements NatsServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private removed = false;
  /** stopping is set while this helper itself stops the server: any other exit is reported. */
  private stopRequested = false;

  constructor(
    private readonly spec: ServerSpec,
    private readonly ownsDir: string | undefined,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.spec.port}`;
  }
  get port(): number {
    return this.spec.port;
  }
  get dir(): string {
    return this.spec.dir;
  }
  get name(): string {
    return this.spec.name;
  }
  pid(): number | undefined {
    return this.child?.pid;
  }
  stopping(): boolean {
    return this.stopRequested;
  }
  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async spawn(): Promise<void> {
    if (this.running()) throw new Error(`${this.spec.name} is already running`);
    const confPath = join(this.spec.dir, 'server.conf');
    await writeFile(confPath, this.spec.config);
    const portsDir = join(this.spec.dir, 'ports');
    await rm(portsDir, { recursive: true, force: true });
    await mkdir(portsDir, { recursive: true });
    const { openSync, closeSync } = await import('node:fs');
    const logFd = openSync(join(this.spec.dir, 'server.log'), 'a');
    const child = spawn(NATS_SERVER_BIN, ['-c', confPath, '--ports_file_dir', portsDir], {
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    installExitHook();
    live.add(child);
    this.child = child;
    this.stopRequested = false;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (!this.stopRequested) void this.reportUnexpectedExit(code, signal);
        resolve();
      });
      child.once('error', () => {
        live.delete(child);
        resolve();
      });
    });
    // The ports file appears once the client listener is up.
    await waitFor(`${this.spec.name} to listen on ${this.url}`, 15_000, async () => {
      if (!this.running()) throw new Error(`${this.spec.name} exited early:\n${await this.log()}`);
      const files = await readdir(portsDir);
      return files.some((f) => f.endsWith('.ports')) ? true : undefined;
    });
  }

  async log(): Promise<string> {
    try {
      return await readFile(join(this.spec.dir, 'server.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /**
   * reportUnexpectedExit writes to stderr when a server dies without this helper stopping it (a
   * crash, the OOM killer, a stray signal): the test then fails on a lost connection, and the
   * server's own last words are the only evidence of why.
   */
  private async reportUnexpectedExit(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const tail = (await this.log()).split('\n').slice(-20).join('\n');
    process.stderr.write(`test nats-server ${this.spec.name} (${this.url}) exited unexpectedly: code ${code} signal ${signal}\n${tail}\n`);
  }

  async kill(): Promise<void> {
    this.stopRequested = true;
    if (this.running()) this.child?.kill('SIGKILL');
    await this.exited;
  }

  async halt(): Promise<void> {
    this.stopRequested = true;
    if (this.running()) {
      this.child?.kill('SIGTERM');
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.spawn();
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.ownsDir && !this.removed) {
      this.removed = true;
      await rm(this.ownsDir, { recursive: true, force: true });
    }
  }
}

function suffix(): string {
  return randomBytes(4).toString('hex');
}

/**
 * startNatsServer starts one nats-server with JetStream on a free 127.0.0.1 port with its data in a
 * fresh temp dir, and resolves once JetStream answers.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServer> {
  checkBinary();
  const root = await mkdtemp(join(tmpdir(), 'gitcell-nats-'));
  let server: ServerProcess | undefined;
  opts.t?.after(() => server?.stop() ?? rm(root, { recursive: true, force: true }));
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const name = `gc-${suffix()}`;
    const config = [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${port}`,
      opts.jetstream === false ? '' : `jetstream { store_dir: "${join(root, 'js')}" }`,
      opts.extraConfig ?? '',
    ].join('\n');
    server = new ServerProcess({ name, dir: root, port, config }, root);
    try {
      await server.spawn();
      if (opts.jetstream !== false) await jetStreamReady([server.url], 30_000, opts.probe);
      return server;
    } catch (err) {
      lastErr = err;
      await server.kill();
    }
  }
  await rm(root, { recursive: true, force: true });
  throw new Error(`could not start nats-server: ${String(lastErr)}`);
}

/** SecureCluster makes startNatsCluster's servers require TLS from clients and authenticate and verify routes (store/tls.ts). */
export interface SecureCluster {
  tls: NatsTls;
  user: string;
  password: string;
}

/**
 * startNatsCluster starts `size` (default 3) nats-servers forming one JetStream cluster on loopback,
 * each with its own store dir, and resolves once JetStream answers on every server. `extraConfig` is
 * appended to every server's config (e.g. an authorization block: its readiness checks connect with
 * `probe`, which must be allowed `$JS.API.INFO` and to create and delete the `READY_*` streams).
 * `secure` turns on client TLS and authenticated, mutually verified TLS routes (store/tls.ts).
 * `tags[i]` is server i's `server_tags` (JetStream placement tags).
 */
export async function startNatsCluster(opts: { t?: Cleanup; size?: number; extraConfig?: string; probe?: Partial<ConnectionOptions>; secure?: SecureCluster; tags?: string[] } = {}): Promise<NatsCluster> {
  checkBinary();
  const size = opts.size ?? 3;
  const root = await mkdtemp(join(tmpdir(), 'gitcell-natscluster-'));
  let servers: ServerProcess[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.kill()));
    await rm(root, { recursive: true, force: true });
  };
  opts.t?.after(stopAll);
  let lastErr: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const clusterName = `gcc-${suffix()}`;
    const clientPorts: number[] = [];
    const routePorts: number[] = [];
    // Ask for all ports while holding none of them; a clash is caught below and retried.
    while (clientPorts.length < size) {
      const p = await freePort();
      const q = await freePort();
      if (p === q || clientPorts.includes(p) || routePorts.includes(q) || routePorts.includes(p) || clientPorts.includes(q)) continue;
      clientPorts.push(p);
      routePorts.push(q);
    }
    const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ');
    servers = [];
    for (let i = 0; i < size; i++) {
      const name = `${clusterName}-s${i}`;
      const dir = join(root, `attempt${attempt}`, `s${i}`);
      await mkdir(dir, { recursive: true });
      const config = [
        `server_name: ${name}`,
        ...(opts.tags?.[i] ? [`server_tags: ${JSON.stringify([opts.tags[i]])}`] : []),
        `listen: 127.0.0.1:${clientPorts[i]}`,
        `jetstream { store_dir: "${join(dir, 'js')}" }`,
        opts.secure
          ? `${clusterConfig({ name: clusterName, listen: `127.0.0.1:${routePorts[i]}`, routes: routePorts.map((p) => `127.0.0.1:${p}`), user: opts.secure.user, password: opts.secure.password, tls: opts.secure.tls })}\n${clientTlsConfig(opts.secure.tls)}`
          : `cluster { name: ${clusterName}, listen: 127.0.0.1:${routePorts[i]}, routes: [${routes}] }`,
        opts.extraConfig ?? '',
      ].join('\n');
      servers.push(new ServerProcess({ name, dir, port: clientPorts[i]!, config }, undefined));
    }
    try {
      await Promise.all(servers.map((s) => s.spawn()));
      await jetStreamReady(servers.map((s) => s.url), 30_000, opts.probe);
      await clusterPlacementReady(servers[0]!.url, size, 30_000, opts.probe);
      const list = servers;
      const at = (i: number): ServerProcess => {
        const s = list[i];
        if (!s) throw new Error(`no server ${i} in a cluster of ${list.length}`);
        return s;
      };
      return {
        urls: list.map((s) => s.url),
        url: list.map((s) => s.url).join(','),
        servers: list,
        routes: routePorts.map((p) => `127.0.0.1:${p}`),
        kill: (i) => at(i).kill(),
        restart: (i) => at(i).restart(),
        stop: stopAll,
      };
    } catch (err) {
      lastErr = err;
      const logs = await Promise.all(servers.map(async (s) => `--- ${s.name}\n${(await s.log()).slice(-2000)}`));
      lastErr = new Error(`${String(err)}\n${logs.join('\n')}`);
      await Promise.all(servers.map((s) => s.kill()));
    }
  }
  await rm(root, { recursive: true, force: true });
  throw new Error(`could not start a ${size}-server nats cluster: ${String(lastErr)}`);
}
