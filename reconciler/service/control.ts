/**
 * Source control: what an operator asks of a source through the store, as Flux's `suspend`,
 * `resume` and `reconcile` annotations. The record (`sync` key `control.<source>`, kind
 * SourceControl) is written by the admin CLI only (`gitcell suspend|resume|reconcile`); the
 * leading reconciler follows it:
 *
 *   suspended        no new revision is applied (the cluster stays at the last applied one; the
 *                    controllers keep running its tasks); resume reconciles the tip at once
 *   reconcileAt      a request to reconcile the tip now (withSource: fetch it first), honoured
 *                    once per new value; the CLI waits for a SyncStatus history entry after it
 */
import { errorMessage, type Logger } from '../../lib/index.ts';
import type { ReconcilerStore } from '../apply/index.ts';

/** CONTROL_PREFIX starts the `sync` keys of source controls: `control.<source>`. */
export const CONTROL_PREFIX = 'control';

/** sourceControlKey is the `sync` key of a source's SourceControl. */
export function sourceControlKey(source: string): string {
  return `${CONTROL_PREFIX}.${source}`;
}

/** SourceControl is what an operator asked of a source (writer: the admin CLI). */
export interface SourceControl {
  kind: 'SourceControl';
  source: string;
  suspended: boolean;
  /** when and why it was suspended (shown by `gitcell status`) */
  suspendedAt?: string;
  reason?: string;
  /** a reconcile request: the tip is reconciled once per new value */
  reconcileAt?: string;
  /** with reconcileAt: fetch the source before */
  withSource?: boolean;
  updatedAt: string;
}

/** ControlFollower is the leading reconciler's view of its source's control record. */
export interface ControlFollower {
  /** suspended tells whether revisions are held back now */
  suspended(): boolean;
  /** ready resolves once the record was read (or found absent) */
  readonly ready: Promise<void>;
  /** done resolves when the signal ends the watch */
  readonly done: Promise<void>;
}

/**
 * followSourceControl watches the source's control record while `signal` lasts: `onResume` when
 * it turns from suspended to not, `onReconcile` for each new reconcile request (not the one
 * already there when the watch starts, which an earlier leader honoured).
 */
export function followSourceControl(opts: {
  store: ReconcilerStore;
  source: string;
  signal: AbortSignal;
  log: Logger;
  onResume: () => void;
  onReconcile: (withSource: boolean) => void;
}): ControlFollower {
  let suspended = false;
  let synced = false;
  let lastRequest: string | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const apply = (c: SourceControl | undefined) => {
    const was = suspended;
    suspended = c?.suspended === true;
    if (synced && was && !suspended) {
      opts.log.info({ source: opts.source }, 'reconciler: source resumed');
      opts.onResume();
    }
    if (!was && suspended) opts.log.info({ source: opts.source, reason: c?.reason }, 'reconciler: source suspended: revisions are held back');
    if (c?.reconcileAt && c.reconcileAt !== lastRequest) {
      if (synced) opts.onReconcile(c.withSource === true);
      lastRequest = c.reconcileAt;
    }
  };
  const done = (async () => {
    try {
      for await (const ev of opts.store.sync.watch({ key: sourceControlKey(opts.source), signal: opts.signal })) {
        if (ev.type === 'put') apply(ev.value.kind === 'SourceControl' ? ev.value : undefined);
        else if (ev.type === 'delete') apply(undefined);
        else {
          synced = true;
          markReady();
        }
      }
    } catch (err) {
      if (!opts.signal.aborted) opts.log.warn({ err: errorMessage(err) }, 'reconciler: source control watch ended');
    } finally {
      markReady();
    }
  })();
  return { suspended: () => suspended, ready, done };
}
