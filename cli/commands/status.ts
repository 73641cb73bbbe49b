import type { Command } from 'commander';
import { SOURCE_PREFIX, changedWorkloadKeys, judgeCommit, rollbackEvents, withStatuses, type CommitStatusVerdict, type SyncStatus } from '../../reconciler/index.ts';
import { addClientOptions, age, table, withStore, type ClientOptions } from '../client.ts';
import { addOutputOption, parseOutput, renderValue } from '../output.ts';
import { monitoringSection } from './alerts.ts';
import type { AlertView, MonitoringReport } from '../monitoring-endpoints.ts';

/**
 * registerStatus adds `gitcell status`: each followed source, its revisions, conditions and recent
 * reconciles, and monitoring (firing alerts, or degraded). `-o json|yaml` prints
 * `{ sources: SyncStatus[], monitoring: { prometheus, alertmanager, degraded, problems, alerts } | null }`.
 */
export function registerStatus(program: Command): void {
  addClientOptions(
    addOutputOption(program.command('status').description('show each Git source: applied and attempted revision, conditions, recent reconciles, failed rollouts')),
  ).action(async (opts: ClientOptions & { output?: string }) => {
    const out = parseOutput(opts.output, ['table', 'json', 'yaml', 'jsonpath']);
    const { sources, rollouts } = await withStore(opts, 'status', async (store) => {
      const sources = (await store.sync.list(SOURCE_PREFIX)).map((r) => r.value as SyncStatus).filter((s) => s.kind === 'SyncStatus');
      // Each reconcile's rollout, judged as the commit statuses are (reconciler/notify): "Applied"
      // alone would hide a commit whose rollout failed and was reverted.
      const rollouts = new Map<string, Map<string, CommitStatusVerdict>>();
      if (out.format === 'table') {
        for (const s of sources) {
          const rollbacks = await rollbackEvents(store, s.source);
          const changed = s.lastAppliedRevision ? await withStatuses(store, await changedWorkloadKeys(store, s.lastAppliedRevision)) : [];
          const verdicts = new Map<string, CommitStatusVerdict>();
          for (const h of s.history) {
            const v = judgeCommit({ revision: h.revision, source: s, rollbacks, ...(h.revision === s.lastAppliedRevision ? { changed } : {}) });
            if (v) verdicts.set(h.revision, v);
          }
          rollouts.set(s.source, verdicts);
        }
      }
      return { sources, rollouts };
    });
    const monitoring = await monitoringSection(opts.clusterDir);
    if (out.format !== 'table') return void process.stdout.write(renderValue({ sources, monitoring: monitoringValue(monitoring.report) }, out));
    if (monitoring.text) process.stdout.write(`${monitoring.text}\n`);
    if (!sources.length) {
      process.stdout.write('no source has been reconciled yet (is `gitcell reconciler` running?)\n');
      return;
    }
    for (const s of sources) {
      const cond = (type: string) => s.conditions.find((c) => c.type === type);
      process.stdout.write(`source ${s.source}\n`);
      process.stdout.write(`  applied revision:   ${s.lastAppliedRevision ?? '-'}\n`);
      process.stdout.write(`  attempted revision: ${s.lastAttemptedRevision ?? '-'}${s.phase ? ` (now: ${s.phase})` : ''}\n`);
      process.stdout.write(`  objects:            ${s.inventoryCount}\n\n`);
      process.stdout.write(table(['CONDITION', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'], s.conditions.map((c) => [c.type, c.status, c.reason, age(c.lastTransitionTime), c.message])));
      if (s.problems?.length) {
        process.stdout.write('\nproblems:\n');
        for (const p of s.problems) process.stdout.write(`  ${p.file}:${p.line}:${p.column}: ${p.code}: ${p.message}\n`);
      }
      if (s.failedRollouts.length) {
        process.stdout.write('\nfailed rollouts:\n');
        for (const f of s.failedRollouts) process.stdout.write(`  ${f.object.kind} ${f.object.namespace}/${f.object.name} at ${f.revision.slice(0, 12)}: ${f.reason}: ${f.message}\n`);
      }
      if (s.history.length) {
        process.stdout.write('\n');
        const verdicts = rollouts.get(s.source);
        process.stdout.write(table(['REVISION', 'RESULT', 'ROLLOUT', 'DURATION', 'AGE', 'MESSAGE'], s.history.map((h) => [h.revision.slice(0, 12), h.result, rolloutCell(h.result, verdicts?.get(h.revision)), `${Math.round(h.durationMs)}ms`, age(h.startedAt), h.message])));
      }
      const stalled = cond('Stalled');
      if (stalled?.status === 'True') process.exitCode = 1;
      process.stdout.write('\n');
    }
  });
}

/** rolloutCell says in a word or two how a reconcile's rollout went (the commit status, shortened). */
function rolloutCell(result: string, v: CommitStatusVerdict | undefined): string {
  if (result !== 'Applied' && result !== 'Unchanged') return '-';
  if (!v) return '-';
  if (v.state === 'failure') return v.revert ? `Failed, reverted by ${v.revert.slice(0, 12)}` : 'Failed';
  if (v.state === 'pending') return 'Progressing';
  return v.description.includes('superseded') ? 'Superseded' : 'Complete';
}

/** StatusMonitoring is status's monitoring section as data: where the servers are, what is down, the firing and pending alerts. */
export interface StatusMonitoring {
  prometheus: string | null;
  alertmanager: string | null;
  /** true when a server cannot be reached (the cluster runs on; alerts are not evaluated or delivered) */
  degraded: boolean;
  /** one line per server down */
  problems: string[];
  alerts: AlertView[];
}

/** monitoringValue is the monitoring section of `status -o json`; null when no monitoring is known. */
function monitoringValue(r: MonitoringReport | undefined): StatusMonitoring | null {
  if (!r) return null;
  return { prometheus: r.endpoints.prometheus ?? null, alertmanager: r.endpoints.alertmanager ?? null, degraded: r.degraded.length > 0, problems: r.degraded, alerts: r.alerts };
}
