import type { Command } from 'commander';
import { DEFAULT_NAMESPACE } from '../../api/index.ts';
import { UsageError } from '../../lib/errors.ts';
import { addClientOptions, withStore, type ClientOptions, type ClientStore } from '../client.ts';
import { BUILTIN_KINDS, parseSelector, resolveKind, type KindInfo } from '../kinds.ts';
import { clusterKinds, listKind, WATCHED_BUCKETS, type KindListing, type Query } from '../listings.ts';
import { addOutputOption, parseOutput, renderListing, renderValue, type Output } from '../output.ts';
import { ErrorCodes } from '../../lib/error-codes.ts';
import { ALERT_KIND_NAMES, getAlerts } from './alerts.ts';

interface GetOptions extends ClientOptions {
  output?: string;
  selector?: string;
  watch?: boolean;
  namespace?: string;
  allNamespaces?: boolean;
}

/** jsonOf is what -o json/yaml/jsonpath print: one object when one NAME was asked for, else the array. */
function jsonOf(l: KindListing, names: readonly string[]): unknown {
  const values = l.rows.map((r) => r.json);
  return names.length === 1 && values.length === 1 ? values[0] : values;
}

function print(l: KindListing, q: Query, out: Output): void {
  process.stdout.write(renderListing({ head: l.head, wideHead: l.wideHead, rows: l.rows, json: jsonOf(l, q.names) }, out));
}

/**
 * watchKind (`get -w`) prints the listing, then each row again whenever it changes, as kubectl
 * does: it follows the buckets the kind is made of and re-reads after each burst of changes. JSON
 * formats print each changed object on its own line. Ends on Ctrl-C.
 */
async function watchKind(store: ClientStore, kind: KindInfo, q: Query, out: Output, first: KindListing): Promise<void> {
  const ac = new AbortController();
  const stop = () => {
    ac.abort();
    // Ctrl-C ends a watch at once: closing the watches and the connection gets 2 s, no more.
    setTimeout(() => process.exit(0), 2_000).unref();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // A row is printed again when it changed, not when only its AGE moved on.
  const ageAt = first.head.findIndex((h) => h === 'AGE' || h === 'HEARTBEAT');
  const key = (cells: (string | number)[]) => JSON.stringify(cells.filter((_, i) => i !== ageAt));
  const seen = new Map(first.rows.map((r) => [r.name, key(r.cells)]));
  let timer: NodeJS.Timeout | undefined;
  let busy = Promise.resolve();
  const refresh = () =>
    (busy = busy.then(async () => {
      const l = await listKind(store, kind, q);
      const changed = l.rows.filter((r) => seen.get(r.name) !== key(r.cells));
      for (const r of changed) seen.set(r.name, key(r.cells));
      if (!changed.length) return;
      if (out.format === 'table' || out.format === 'wide' || out.format === 'name') {
        // Rows only, no header: the columns of the first table still apply (kubectl -w).
        const body = renderListing({ head: l.head, wideHead: l.wideHead, rows: changed, json: [] }, out);
        process.stdout.write(out.format === 'name' ? body : body.split('\n').slice(1).join('\n'));
      } else for (const r of changed) process.stdout.write(out.format === 'json' ? `${JSON.stringify(r.json)}\n` : renderValue(r.json, out));
    }).catch(() => undefined));
  const buckets = WATCHED_BUCKETS[kind.kind] ?? ['desired'];
  try {
    await Promise.all(
      buckets.map(async (b) => {
        const w = store[b].watch({ afterRevision: await store[b].lastRevision(), signal: ac.signal });
        for await (const ev of w) {
          if (ev.type === 'synced') continue;
          clearTimeout(timer);
          timer = setTimeout(refresh, 150);
        }
      }),
    );
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/**
 * registerGet adds `gitcell get KIND [NAME...] [-l SELECTOR] [-w] [-n NS | -A] [-o FORMAT]` for
 * every kind (tasks, nodes, jobs, daemonsets, cronjobs, secrets with values hidden, CRDs and the
 * user kinds they define), by kind, plural, singular or short name.
 */
export function registerGet(program: Command): void {
  addClientOptions(
    addOutputOption(
      program
        .command('get')
        .description(`list objects of a kind: ${BUILTIN_KINDS.map((k) => k.plural).join(', ')}, a user kind (CRD), or alerts (from Prometheus)`)
        .argument('<kind>', 'kind, plural, singular or short name (case-insensitive): jobs, job, ds, db...')
        .argument('[names...]', 'only these objects')
        .option('-l, --selector <selector>', 'label selector: key=value, key!=value, key in (a,b), key notin (a,b), key, !key')
        .option('-w, --watch', 'after listing, print each object again whenever it changes')
        .option('-n, --namespace <ns>', `namespace (default: ${DEFAULT_NAMESPACE})`)
        .option('-A, --all-namespaces', 'every namespace'),
    ),
  ).action(async (kindArg: string, names: string[], opts: GetOptions) => {
    const out = parseOutput(opts.output);
    if (opts.allNamespaces && opts.namespace) throw new UsageError(ErrorCodes.Usage, '-n and -A: give one of them', { flag: '-A' });
    // Alerts live in Prometheus and Alertmanager, not in the store.
    if (ALERT_KIND_NAMES.includes(kindArg.toLowerCase())) return getAlerts(opts, out);
    const selector = parseSelector(opts.selector ?? '');
    const builtin = BUILTIN_KINDS.find((k) => [k.kind, k.plural, k.singular, ...k.shortNames].some((n) => n.toLowerCase() === kindArg.toLowerCase()));
    await withStore(opts, 'get', async (store) => {
      const kind = builtin ?? resolveKind(kindArg, await clusterKinds(store, BUILTIN_KINDS));
      const q: Query = { ...(opts.allNamespaces ? {} : { namespace: opts.namespace ?? DEFAULT_NAMESPACE }), names, selector };
      const listing = await listKind(store, kind, q);
      print(listing, q, out);
      for (const n of listing.missing) process.stderr.write(`gitcell: ${kind.plural} "${n}" not found${kind.namespaced ? ` in namespace ${q.namespace ?? '(any)'}` : ''}\n`);
      if (listing.missing.length) process.exitCode = 1;
      else if (!listing.rows.length && (out.format === 'table' || out.format === 'wide') && !opts.watch) {
        process.stderr.write(`no ${kind.plural} found${kind.namespaced ? (q.namespace ? ` in namespace ${q.namespace}` : '') : ''}\n`);
      }
      if (opts.watch) await watchKind(store, kind, q, out, listing);
    });
  });
}
