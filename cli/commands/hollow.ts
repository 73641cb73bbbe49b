import type { Command } from 'commander';
import { mkdtemp } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../../lib/errors.ts';
import { createLogger } from '../../lib/log.ts';
import { closeConnection, connectFromOptions, probeIncarnation, waitForStore, DEFAULT_PREFIX } from '../../store/index.ts';
import { parseCapacity, parseLabels } from '../../agent/index.ts';
import { HollowProcess } from './hollow-nodes.ts';
import { NODE_LEASE_RENEW_MS } from '../../api/node-liveness.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { addNodeDirOption } from '../options.ts';

/** HOLLOW_MAX_PING_OUT: 2-s pings a hollow process's connection may leave unanswered before it counts as stale (30 s). */
const HOLLOW_MAX_PING_OUT = 15;

interface HollowFlags {
  nodes: string;
  prefix: string;
  nats?: string;
  creds?: string;
  clusterDir: string;
  nodeDir?: string;
  storePrefix: string;
  startDelayMs: string;
  capacity: string;
  labels?: string;
  heartbeatMs?: string;
  resyncMs?: string;
}

/** count parses a non-negative integer flag within [min, max]; E_USAGE naming the flag otherwise. */
function count(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new UsageError(ErrorCodes.Usage, `${flag}: "${text}" is not a whole number from ${min} to ${max}`, { flag });
  return n;
}

/**
 * registerHollow adds `gitcell hollow --nodes N --prefix hollow-`: many simulated nodes in one
 * process, each the real agent over the in-memory runtime (hollow-nodes.ts), for scale tests.
 */
export function registerHollow(program: Command): void {
  addNodeDirOption(program.command('hollow'), 'the nodes\' journals, a dir per node (default: a new dir in /dev/shm, removed on exit)')
    .description('run many hollow nodes in one process: the real agent over an in-memory runtime (scale tests)')
    .requiredOption('--nodes <n>', 'how many nodes')
    .option('--prefix <prefix>', 'node names are <prefix>00001, <prefix>00002, ...', 'hollow-')
    .option('--nats <urls>', 'NATS server(s); default: the embedded server of --cluster-dir')
    .option('--creds <file>', 'NATS credentials file: one identity for the process, allowed its own nodes\' keys (hollowPermissions)')
    .option('--cluster-dir <dir>', 'state dir of the embedded cluster (gitcell up)', '.gitcell')
    .option('--store-prefix <prefix>', 'bucket name prefix', DEFAULT_PREFIX)
    .option('--start-delay-ms <ms>', 'how long a task takes to "start"', '100')
    .option('--capacity <cpu=N,memory=Q>', 'capacity of a standard node (every fourth node is large: twice that)', 'cpu=4,memory=16Gi')
    .option('--labels <k=v,...>', 'labels of every node (besides shape, zone and gitcell.io/hollow=true)')
    .option('--heartbeat-ms <ms>', `a fixed heartbeat (lease renewal) period of each node, staggered (default: the period the control plane publishes, ${NODE_LEASE_RENEW_MS} while none is)`)
    .option('--resync-ms <ms>', 'resync period of each node (default 10000, staggered)')
    .action(async (f: HollowFlags) => {
      const nodes = count(f.nodes, '--nodes', 1, 20_000);
      if (!/^[a-z0-9]([a-z0-9-]{0,50})$/.test(f.prefix)) {
        throw new UsageError(ErrorCodes.Usage, `--prefix: "${f.prefix}" must start a DNS label (lowercase letters, digits, '-', at most 51)`, { flag: '--prefix' });
      }
      const startDelayMs = count(f.startDelayMs, '--start-delay-ms', 0, 3_600_000);
      const timings = {
        ...(f.heartbeatMs ? { heartbeatMs: count(f.heartbeatMs, '--heartbeat-ms', 100, 600_000) } : {}),
        ...(f.resyncMs ? { resyncMs: count(f.resyncMs, '--resync-ms', 100, 600_000) } : {}),
      };
      const capacity = parseCapacity(f.capacity, { cpuMillis: 0, memoryBytes: 0 });
      const labels = parseLabels(f.labels);
      const log = createLogger('hollow');
      const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
      const own = !f.nodeDir;
      const stateDir = f.nodeDir ? resolve(f.nodeDir) : await mkdtemp(join(base, 'gitcell-hollow-'));
      // Stale only after 30 s without a PONG (15 pings), not 4 s: at a commit this process reads
      // every task and binding of the cluster and falls seconds behind, its PONGs queued behind them.
      // Dropping the connection then failed every write in flight (status writes retried, so written
      // twice: 1.41 per task at 10,000 nodes) and restarted every watch with what was in flight again.
      const nc = await connectFromOptions({ ...(f.nats ? { nats: f.nats } : {}), ...(f.creds ? { creds: f.creds } : {}), stateDir: f.clusterDir, name: `gitcell hollow ${f.prefix}`, maxPingOut: HOLLOW_MAX_PING_OUT });
      let incarnation: string | undefined;
      if (f.creds) {
        incarnation = await waitForStore(nc, { prefix: f.storePrefix, buckets: ['tasks', 'bindings', 'status', 'nodes', 'heartbeats', 'nodespec', 'services', 'cluster'], streams: [`${f.storePrefix}events`], log });
      } else {
        const p = await probeIncarnation(nc, f.storePrefix);
        if (p.state === 'present') incarnation = p.incarnation;
      }
      const hollow = new HollowProcess(nc, {
        nodes, prefix: f.prefix, storePrefix: f.storePrefix, stateDir, startDelayMs, capacity, labels, timings,
        ...(incarnation ? { storeIncarnation: incarnation } : {}),
      // Thousands of nodes: their routine lines ("started") only with GITCELL_LOG_LEVEL set.
      }, process.env.GITCELL_LOG_LEVEL ? log : log.child({}, { level: 'warn' }));
      const t0 = Date.now();
      await hollow.start();
      // The line a supervisor (bench, test) waits for.
      process.stdout.write(`hollow: ${nodes} nodes running (${f.prefix}00001..) in ${((Date.now() - t0) / 1000).toFixed(1)} s, state ${stateDir}\n`);
      await new Promise<void>((done) => {
        process.once('SIGTERM', () => done());
        process.once('SIGINT', () => done());
      });
      await hollow.stop(own);
      await closeConnection(nc);
    });
}
