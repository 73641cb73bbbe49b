import type { Command } from 'commander';
import { UsageError, RuntimeError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/log.ts';
import { connectFromOptions, openClusterStore, DEFAULT_PREFIX } from '../../store/index.ts';
import { sourceStatusKey } from '../../reconciler/apply/keys.ts';
import { sourceControlKey, type SourceControl } from '../../reconciler/service/control.ts';
import type { DesiredRecord, SyncRecord, SyncStatus } from '../../reconciler/index.ts';
import { addClientOptions, type ClientOptions, type ClientStore } from '../client.ts';
import { parseDuration } from '../duration.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';

interface SourceOptions extends ClientOptions {
  source: string;
}

/**
 * withAdminStore opens the store as the control plane (the operator's credentials): these
 * commands write the source's control record, which a read-only viewer may not.
 */
async function withAdminStore<T>(opts: ClientOptions, name: string, fn: (store: ClientStore) => Promise<T>): Promise<T> {
  const nc = await connectFromOptions({ ...(opts.nats ? { nats: opts.nats } : {}), ...(opts.clusterDir ? { stateDir: opts.clusterDir } : {}), ...(opts.creds ? { creds: opts.creds } : {}), name: `gitcell ${name}` });
  try {
    return await fn(await openClusterStore<DesiredRecord, SyncRecord>(nc, { prefix: opts.prefix ?? DEFAULT_PREFIX, log: silentLogger() }));
  } finally {
    await nc.close();
  }
}

/** updateControl changes the source's control record by compare-and-set (`fn` gets the current one). */
async function updateControl(store: ClientStore, source: string, fn: (c: SourceControl) => SourceControl): Promise<SourceControl> {
  const now = new Date().toISOString();
  const rec = await store.sync.updateWithRetry(sourceControlKey(source), (cur) => {
    const c = cur?.kind === 'SourceControl' ? cur : { kind: 'SourceControl' as const, source, suspended: false, updatedAt: now };
    return { ...fn(c), updatedAt: now };
  });
  return rec!.value as SourceControl;
}

const sourceOption = (cmd: Command): Command => cmd.option('--source <name>', 'source name (the reconciler\'s --name, default from its branch)', 'main');

// `gitcell suspend`, `resume` and `reconcile` (Flux's verbs) write a store record the leading
// reconciler follows (reconciler/service/control.ts).

/** registerSuspend adds `gitcell suspend [--source NAME] [--reason TEXT]`. */
export function registerSuspend(program: Command): void {
  addClientOptions(sourceOption(program.command('suspend').description('stop applying new revisions of a source (the cluster keeps the last applied one) until `gitcell resume`').option('--reason <text>', 'why (shown by gitcell status)'))).action(
    async (opts: SourceOptions & { reason?: string }) => {
      await withAdminStore(opts, 'suspend', (store) => updateControl(store, opts.source, (c) => ({ ...c, suspended: true, suspendedAt: new Date().toISOString(), ...(opts.reason ? { reason: opts.reason } : {}) })));
      process.stdout.write(`source ${opts.source} suspended: new revisions are held back until \`gitcell resume\`\n`);
    },
  );
}

/** registerResume adds `gitcell resume [--source NAME]`. */
export function registerResume(program: Command): void {
  addClientOptions(sourceOption(program.command('resume').description('apply new revisions of a suspended source again (the tip at once)'))).action(async (opts: SourceOptions) => {
    await withAdminStore(opts, 'resume', (store) => updateControl(store, opts.source, ({ suspendedAt: _a, reason: _r, ...c }) => ({ ...c, suspended: false })));
    process.stdout.write(`source ${opts.source} resumed\n`);
  });
}

/** registerReconcile adds `gitcell reconcile [--with-source] [--timeout D]`: reconcile now, wait for the result. */
export function registerReconcile(program: Command): void {
  addClientOptions(
    sourceOption(
      program
        .command('reconcile')
        .description('reconcile a source now and wait for the result (--with-source: fetch it first); exit 1 if it did not apply')
        .option('--with-source', 'fetch the repository first (a remote source) instead of waiting for the next poll')
        .option('--timeout <duration>', 'how long to wait for the reconcile', '2m'),
    ),
  ).action(async (opts: SourceOptions & { withSource?: boolean; timeout: string }) => {
    const timeoutMs = parseDuration(opts.timeout, '--timeout');
    const entry = await withAdminStore(opts, 'reconcile', async (store) => {
      const c = await updateControl(store, opts.source, (cur) => ({ ...cur, reconcileAt: new Date().toISOString(), withSource: opts.withSource === true }));
      if (c.suspended) throw new UsageError(ErrorCodes.Suspended, `source ${opts.source} is suspended: \`gitcell resume --source ${opts.source}\` first`, { source: opts.source });
      const asked = c.reconcileAt!;
      // The reconciler's clock stamps history entries: this waits for one started after the request.
      const w = store.sync.watch({ key: sourceStatusKey(opts.source) });
      const timer = setTimeout(() => void w.close(), timeoutMs);
      try {
        for await (const ev of w) {
          if (ev.type !== 'put' || ev.value.kind !== 'SyncStatus') continue;
          const s = ev.value as SyncStatus;
          const done = s.history.find((h) => h.startedAt >= asked);
          if (done && !s.phase) return done;
        }
      } finally {
        clearTimeout(timer);
        await w.close();
      }
      throw new RuntimeError(ErrorCodes.Timeout, `no reconcile of source ${opts.source} within ${opts.timeout} (is \`gitcell reconciler\` running?)`, { source: opts.source });
    });
    process.stdout.write(`source ${opts.source}: ${entry.result} ${entry.revision.slice(0, 12)} in ${Math.round(entry.durationMs)} ms${entry.message ? `: ${entry.message}` : ''}\n`);
    if (entry.result === 'Stalled' || entry.result === 'Failed') process.exitCode = 1;
  });
}
