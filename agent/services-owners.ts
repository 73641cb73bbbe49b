/**
 * Owners of the nodes' nft tables on this machine. A table (`gc_<hex>`, machine-global) outlives its
 * agent on purpose: a restarted agent finds it serving and replaces it whole. But an agent killed
 * for good (a test's temporary cluster, a removed node) leaves it behind forever, and no table says
 * whose it is (nft comments hold 128 bytes). So each agent records its state directory in
 * `/run/gitcell/tables/<table>` when it starts, and every start sweeps the tables and DNS
 * directories whose recorded state directory no longer exists: their agent can never come back.
 * Tables without a record (older agents) are left alone, as are those of live state directories.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, readdirSyncOrEmpty, type Logger } from '../lib/index.ts';
import { processAlive } from '../lib/process.ts';
import { listNftTables, NftApplier } from '../runtime/index.ts';

/** TABLE_OWNERS_DIR holds one file per node table: the absolute state directory of its agent. */
export const TABLE_OWNERS_DIR = '/run/gitcell/tables';

/** claimTable records `stateDir` as the owner of `table`. */
export function claimTable(table: string, stateDir: string, dir = TABLE_OWNERS_DIR): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  writeFileSync(join(dir, table), `${stateDir}\n`, { mode: 0o644 });
}

/** releaseTable forgets the owner of a table that was removed. */
export function releaseTable(table: string, dir = TABLE_OWNERS_DIR): void {
  rmSync(join(dir, table), { force: true });
}

/** SweepOptions: this agent's own table (never touched), where the records and DNS directories live. */
export interface SweepOptions {
  own: string;
  dnsRunDir: string;
  ownersDir?: string;
  /** the network namespace the tables live in (isolated nodes, tests); default the caller's */
  netns?: string;
  log: Logger;
}

/**
 * sweepStaleTables deletes the tables (and DNS directories, ending a dnsmasq still serving one)
 * whose owner's state directory is gone, and returns their names. Best effort: a failure is logged.
 */
export async function sweepStaleTables(o: SweepOptions): Promise<string[]> {
  const ownersDir = o.ownersDir ?? TABLE_OWNERS_DIR;
  const stale = (table: string): boolean => {
    if (table === o.own) return false;
    try {
      const owner = readFileSync(join(ownersDir, table), 'utf8').trim();
      return owner.startsWith('/') && !existsSync(owner);
    } catch {
      return false; // no record: an older agent's, or being claimed right now
    }
  };
  const swept: string[] = [];
  try {
    for (const table of (await listNftTables(o.netns)).filter((t) => /^gc_[0-9a-f]{10}$/.test(t) && stale(t))) {
      await new NftApplier({ table, ...(o.netns ? { netns: o.netns } : {}) }).remove();
      swept.push(table);
    }
    for (const table of readdirSyncOrEmpty(o.dnsRunDir).filter(stale)) endDnsmasq(join(o.dnsRunDir, table));
    for (const table of readdirSyncOrEmpty(ownersDir).filter(stale)) releaseTable(table, ownersDir);
  } catch (err) {
    o.log.warn({ err: errorMessage(err) }, 'agent: sweeping the tables of agents gone for good failed');
  }
  if (swept.length) o.log.info({ tables: swept }, 'agent: removed the nft tables of agents whose state directory is gone');
  return swept;
}

/** endDnsmasq kills the dnsmasq serving `dir` (its pid file, checked against its command line) and removes the directory. */
function endDnsmasq(dir: string): void {
  try {
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8').trim());
    if (processAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`--addn-hosts=${join(dir, 'hosts')}`)) process.kill(pid, 'SIGKILL');
  } catch {
    // no pid file, or the process is gone
  }
  rmSync(dir, { recursive: true, force: true });
}
