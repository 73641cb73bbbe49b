// The thin edge of the nft renderer: runs `nft -f -` (inside a network namespace when asked), one
// transaction per apply, and remembers what the kernel holds so the next apply is a delta.
import { existsSync } from 'node:fs';
import { ErrorCodes, NetworkError } from '../../lib/index.ts';
import { runCommand } from '../network/exec.ts';
import { NftSession } from './nft-session.ts';
import { buildModel, renderCleanup, renderDelta, renderFull, validTableName, type LbConfig, type NftModel } from './nft.ts';

/** NftApplierOptions: the table to own, and the network namespace to work in (tests; default the caller's). */
export interface NftApplierOptions {
  table: string;
  /** a named network namespace (`ip netns`), for tests and simulated nodes */
  netns?: string;
  timeoutMs?: number;
}

/** ApplyResult says how an apply went: nothing to do, a delta, or a whole table. */
export interface ApplyResult {
  mode: 'none' | 'delta' | 'full';
  /** the nft script sent ('' for none), and the chain deletions sent after it */
  script: string;
  cleanup: string;
}

/** SESSION_MAX_SCRIPT: scripts longer than this (whole tables) go to an `nft -f -` process of their own. */
const SESSION_MAX_SCRIPT = 64 * 1024;

/** nftBinary is the absolute path of nft (Debian's nftables puts it in /usr/sbin). */
export function nftBinary(): string {
  return ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p)) ?? 'nft';
}

/** listNftTables names the `ip` family tables in `netns` (default the caller's). Throws E_NFT_MISSING when nft cannot list them. */
export async function listNftTables(netns?: string, timeoutMs = 10_000): Promise<string[]> {
  const argv = netns ? ['ip', 'netns', 'exec', netns, nftBinary()] : [nftBinary()];
  const r = await runCommand(argv[0]!, [...argv.slice(1), 'list', 'tables'], { timeoutMs, helper: true });
  if (r.code !== 0) throw new NetworkError(ErrorCodes.NftMissing, `nft list tables: ${r.stderr.trim()}`, {});
  return r.stdout.split('\n').flatMap((l) => /^table ip (\S+)$/.exec(l.trim())?.slice(1) ?? []);
}

/**
 * NftApplier programs one nft table. The first apply (and the first after a failure) replaces the
 * whole table atomically; later ones send only the delta. nft applies a script as one transaction,
 * so the table is never half-programmed: a failed apply leaves the previous table in place and
 * throws E_NFT_APPLY. Connections already set up keep their NAT in conntrack either way.
 */
export class NftApplier {
  private programmed: NftModel | undefined;
  private wanted: NftModel | undefined;
  private cleaning: Promise<void> = Promise.resolve();
  private session: NftSession | undefined;

  constructor(private readonly opts: NftApplierOptions) {
    if (!validTableName(opts.table)) throw new NetworkError(ErrorCodes.NetworkConfig, `nft table "${opts.table}" must be a letter then up to 31 letters, digits or '_'`, { field: 'table' });
  }

  /** check runs `nft list tables`: nft is installed and this process may use it. Throws E_NFT_MISSING otherwise. */
  async check(): Promise<void> {
    try {
      const r = await this.nft(['list', 'tables']);
      if (r.code !== 0) throw new Error(r.stderr.trim() || `exit code ${r.code}`);
    } catch (err) {
      throw new NetworkError(ErrorCodes.NftMissing, `nft is not usable (Debian package nftables, run as root): ${err instanceof Error ? err.message : String(err)}`, {});
    }
  }

  /**
   * apply makes the table match `cfg`. Chains that left are deleted afterwards, in the background
   * and best effort: the kernel may still hold them busy for a moment after the rule that jumped to
   * them went (kube-proxy retries such stale chains later too), so a refusal leaves them,
   * unreferenced and harmless, for the next apply to delete (`pendingCleanup`). Not waiting for
   * that second nft process keeps it off the path of an endpoint update.
   */
  async apply(cfg: Omit<LbConfig, 'table'>): Promise<ApplyResult> {
    await this.cleaning;
    const next = buildModel({ ...cfg, table: this.opts.table });
    this.wanted = next;
    const prev = this.programmed;
    const mode = prev ? 'delta' : 'full';
    const script = prev ? renderDelta(this.opts.table, prev, next) : renderFull(this.opts.table, next);
    if (script) await this.send(script, mode);
    // The kernel now holds next plus the chains that left (until the cleanup succeeds).
    this.programmed = prev ? { chains: new Map([...prev.chains, ...next.chains]), maps: next.maps } : next;
    const cleanup = renderCleanup(this.opts.table, this.programmed, next);
    if (cleanup) this.cleaning = this.cleanup(cleanup, next);
    return { mode: script || cleanup ? mode : 'none', script, cleanup };
  }

  /** settled resolves once the background chain cleanup of the last apply is done (tests). */
  async settled(): Promise<void> {
    await this.cleaning;
  }

  private async cleanup(script: string, next: NftModel): Promise<void> {
    const r = await this.transaction(script).catch(() => undefined);
    if (r?.code === 0 && this.wanted === next) this.programmed = next;
  }

  /** pendingCleanup counts chains left over from earlier applies that the kernel did not let go yet. */
  pendingCleanup(): number {
    if (!this.programmed) return 0;
    let n = 0;
    for (const name of this.programmed.chains.keys()) if (!this.wanted?.chains.has(name)) n++;
    return n;
  }

  private async send(script: string, what: string): Promise<void> {
    const r = await this.transaction(script);
    if (r.code !== 0) {
      this.programmed = undefined; // the kernel kept the table as it was; rebuild it whole next time
      throw new NetworkError(ErrorCodes.NftApply, `nft refused the ${what} update of table ${this.opts.table}: ${r.stderr.trim().split('\n').slice(0, 6).join(' | ')}`, { table: this.opts.table });
    }
  }

  /**
   * transaction runs one nft script atomically: through the long-lived session (a delta), or a
   * process of its own for a large script (a whole table: one long line is no faster).
   */
  private async transaction(script: string): Promise<{ code: number; stderr: string }> {
    if (script.length > SESSION_MAX_SCRIPT) return this.nft(['-f', '-'], script);
    this.session ??= new NftSession(this.argv(), this.opts.timeoutMs ?? 10_000);
    return this.session.run(script);
  }

  /** close ends the nft session (the table stays); the next apply starts another. */
  close(): void {
    this.session?.close();
    this.session = undefined;
  }

  /** remove deletes the table (idempotent) and ends the session. */
  async remove(): Promise<void> {
    await this.cleaning;
    this.close();
    this.programmed = undefined;
    this.wanted = undefined;
    await this.nft(['-f', '-'], `add table ip ${this.opts.table}\ndelete table ip ${this.opts.table}\n`);
  }

  private nft(args: string[], input?: string) {
    const [file, ...argv] = [...this.argv(), ...args];
    return runCommand(file!, argv, { ...(input !== undefined ? { input } : {}), timeoutMs: this.opts.timeoutMs ?? 10_000, helper: true });
  }

  /** argv starts nft, inside the namespace when one is set. */
  private argv(): string[] {
    return this.opts.netns ? ['ip', 'netns', 'exec', this.opts.netns, nftBinary()] : [nftBinary()];
  }
}
