// LogArchive on a real directory: attempts kept by task, --previous picks the one before, and the
// retention by count and bytes drops the oldest first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogArchive } from '../../../agent/index.ts';

function containerLogs(root: string, name: string, text: string): string {
  const dir = join(root, 'containers', name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'stdout.log'), text);
  writeFileSync(join(dir, 'stderr.log'), '');
  writeFileSync(join(dir, 'exit.json'), '{}'); // not a log file: not kept
  return dir;
}

test('attempts are kept by task; find gives the newest, or the newest before an attempt', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gitcell-archive-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const a = new LogArchive(join(root, 'logs'), 'n1');
  for (const attempt of [1, 2, 3]) a.archive(containerLogs(root, `web-0_${attempt}`, `attempt ${attempt}\n`), { taskId: 'web-0', attempt, jobKey: 'Job/default/web', exitCode: 3 });
  a.archive(containerLogs(root, 'other_1', 'x\n'), { taskId: 'other', attempt: 1, jobKey: 'Job/default/webx' });
  assert.equal(a.find('web-0')!.attempt, 3);
  assert.equal(a.find('web-0', 3)!.attempt, 2);
  assert.equal(a.find('web-0', 1), undefined);
  assert.equal(readFileSync(join(a.find('web-0', 3)!.dir, 'stdout.log'), 'utf8'), 'attempt 2\n');
  assert.deepEqual(readdirSync(a.find('web-0')!.dir).sort(), ['meta.json', 'stderr.log', 'stdout.log']);
  assert.deepEqual(a.tasksOf('Job/default/web'), [{ taskId: 'other', jobKey: 'Job/default/webx' }, { taskId: 'web-0', jobKey: 'Job/default/web' }]);
  assert.equal(a.find('web-0')!.exitCode, 3);
});

test('retention: at most maxEntries attempts and maxBytes of logs, the oldest archived go first', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gitcell-archive-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const byCount = new LogArchive(join(root, 'count'), 'n1', { maxEntries: 2 });
  for (const i of [1, 2, 3]) byCount.archive(containerLogs(root, `c${i}`, `${i}\n`), { taskId: `t${i}`, attempt: 1, jobKey: 'Job/default/j' });
  assert.deepEqual(byCount.entries().map((e) => e.taskId), ['t2', 't3']);
  const byBytes = new LogArchive(join(root, 'bytes'), 'n1', { maxBytes: 250 });
  for (const i of [1, 2, 3]) byBytes.archive(containerLogs(root, `b${i}`, 'y'.repeat(100)), { taskId: `b${i}`, attempt: 1, jobKey: 'Job/default/j' });
  assert.deepEqual(byBytes.entries().map((e) => [e.taskId, e.bytes]), [['b2', 100], ['b3', 100]]);
  // A log the container's removal deletes stays readable in the archive (a hard link or a copy).
  rmSync(join(root, 'containers'), { recursive: true, force: true });
  assert.equal(readFileSync(join(byBytes.find('b3')!.dir, 'stdout.log'), 'utf8'), 'y'.repeat(100));
});
