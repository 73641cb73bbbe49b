import type { Command } from 'commander';
import { SOURCE_PREFIX, type SyncStatus } from '../../reconciler/index.ts';
import { addClusterOptions, age, table, withStore, type ClientOptions } from '../client.ts';
import { addOutputOption, parseOutput, renderValue } from '../output.ts';

/** registerStatus adds `gitcell status`: each followed source, its revisions, conditions and recent reconciles. */
export function registerStatus(program: Command): void {
  addClusterOptions(
    addOutputOption(program.command('status').description('show each Git source: applied and attempted revision, conditions, recent reconciles, failed rollouts')),
  ).action(async (opts: ClientOptions & { output?: string }) => {
    const out = parseOutput(opts.output, ['table', 'json', 'yaml', 'jsonpath']);
    const sources = await withStore(opts, 'status', async (store) =>
      (await store.sync.list(SOURCE_PREFIX)).map((r) => r.value as SyncStatus).filter((s) => s.kind === 'SyncStatus'),
    );
    if (out.format !== 'table') return void process.stdout.write(renderValue(sources, out));
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
        process.stdout.write(table(['REVISION', 'RESULT', 'DURATION', 'AGE', 'MESSAGE'], s.history.map((h) => [h.revision.slice(0, 12), h.result, `${Math.round(h.durationMs)}ms`, age(h.startedAt), h.message])));
      }
      const stalled = cond('Stalled');
      if (stalled?.status === 'True') process.exitCode = 1;
      process.stdout.write('\n');
    }
  });
}
