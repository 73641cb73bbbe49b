// The agent's journal (agent/journal.ts): an append-only log whose last line per task wins,
// compacted on load and as it grows, reading entry files of older agents and skipping torn lines,
// written through kept descriptors (agent/append-files.ts: reused across saves, renewed by a
// compaction, at most `cap` open, idle ones closed), the lines of one event-loop turn in one write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, JOURNAL_LOG, entryLine, readJournal, type LocalTask } from '../../../agent/journal.ts';
import { AppendFiles } from '../../../agent/append-files.ts';
import { makeTask } from '../../helpers/agent.ts';

function entry(taskId: string, o: Partial<LocalTask> = {}): LocalTask {
  return { taskId, templateHash: 'h1', spec: makeTask(taskId, 'img', ['serve']), phase: 'starting', attempt: 1, restarts: 0, ...o };
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'tasks');
}

test('the last save of a task wins, a removal forgets it, and a new journal on the dir reads the same', async (t) => {
  const dir = tempDir(t);
  const j = new Journal(dir, { durable: false });
  await j.save(entry('a'));
  await j.save(entry('b'));
  await j.save(entry('a', { phase: 'running', pid: 7 }));
  await j.remove('b');
  await j.remove('never-saved');
  const back = await new Journal(dir).load();
  assert.deepEqual([...back.keys()], ['a']);
  assert.equal(back.get('a')?.phase, 'running');
  assert.equal(back.get('a')?.pid, 7);
  // load compacts: one line per live entry
  assert.equal(readFileSync(join(dir, JOURNAL_LOG), 'utf8').trim().split('\n').length, 1);
});

test('the log is compacted as it grows: 500 saves of 3 tasks keep it under 2 x 3 + 64 lines, nothing lost', async (t) => {
  const dir = tempDir(t);
  const j = new Journal(dir, { durable: false });
  await j.load();
  for (let i = 0; i < 500; i++) await j.save(entry(`t${i % 3}`, { attempt: i }));
  const lines = readFileSync(join(dir, JOURNAL_LOG), 'utf8').trim().split('\n').length;
  assert.ok(lines <= 2 * 3 + 64 + 1, `${lines} lines`);
  const back = await new Journal(dir).load();
  assert.deepEqual([...back.values()].map((x) => x.attempt).sort((x, y) => x - y), [497, 498, 499]);
});

test('entry files of an older agent are read and folded into the log; torn and foreign lines are reported and skipped', async (t) => {
  const dir = tempDir(t);
  await new Journal(dir).load(); // makes the dir
  writeFileSync(join(dir, 'old.json'), JSON.stringify(entry('old', { phase: 'running' })));
  writeFileSync(join(dir, 'bad.json'), '{"half');
  appendFileSync(join(dir, JOURNAL_LOG), `${JSON.stringify(entry('new'))}\n{"taskId":"torn","pha\n{"no":"taskId"}\n`);
  const bad: string[] = [];
  const back = await new Journal(dir).load((file) => bad.push(file));
  assert.deepEqual([...back.keys()].sort(), ['new', 'old']);
  assert.deepEqual(bad.map((f) => f.replace(`${dir}/`, '')).sort(), ['bad.json', `${JOURNAL_LOG}:2`, `${JOURNAL_LOG}:3`]);
  assert.deepEqual(readdirSync(dir), [JOURNAL_LOG], 'the old files are folded in and gone');
});

test('a save after the dir was removed by hand makes it again', async (t) => {
  const dir = tempDir(t);
  const j = new Journal(dir, { durable: false });
  await j.save(entry('a'));
  rmSync(dir, { recursive: true, force: true });
  await j.save(entry('b'));
  assert.deepEqual([...(await new Journal(dir).load()).keys()], ['b']);
});

test('readJournal reads what a running journal holds (log and older entry files) and writes nothing', async (t) => {
  const dir = tempDir(t);
  assert.equal(readJournal(dir).size, 0, 'no dir yet: nothing');
  const j = new Journal(dir, { durable: false });
  await j.save(entry('a'));
  await j.save(entry('b'));
  await j.save(entry('a', { phase: 'finished' }));
  await j.remove('b');
  writeFileSync(join(dir, 'old.json'), JSON.stringify(entry('old', { phase: 'running' })));
  const log = readFileSync(join(dir, JOURNAL_LOG), 'utf8');
  const seen = readJournal(dir);
  assert.deepEqual([...seen.keys()].sort(), ['a', 'old']);
  assert.equal(seen.get('a')?.phase, 'finished');
  assert.equal(readFileSync(join(dir, JOURNAL_LOG), 'utf8'), log, 'the log is not rewritten');
  assert.ok(readdirSync(dir).includes('old.json'), 'older entry files are left to the agent');
});

/** journalDescriptors lists this process's open descriptors on `dir`'s log: fd number and target. */
function journalDescriptors(dir: string): { fd: string; target: string }[] {
  const log = join(dir, JOURNAL_LOG);
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(log) ? [{ fd, target }] : [];
    } catch {
      return []; // the descriptor readdir itself used
    }
  });
}

test('the log descriptor is kept across saves, and a compaction replaces it with one on the new file', async (t) => {
  const dir = tempDir(t);
  const files = new AppendFiles({ cap: 16, idleMs: 60_000 });
  t.after(() => files.closeAll());
  const j = new Journal(dir, { durable: false, files });
  await j.load();
  let reused = 0;
  let previous: string | undefined;
  for (let i = 0; i < 300; i++) {
    await j.save(entry(`t${i % 3}`, { attempt: i }));
    // One descriptor, on the log itself (none right after a compaction: the next save opens the new file).
    const open = journalDescriptors(dir);
    assert.ok(open.length <= 1, `save ${i}: ${open.length} descriptors on the log`);
    if (!open[0]) continue;
    assert.equal(open[0].target, join(dir, JOURNAL_LOG), `save ${i}: on the log itself, not on a replaced file`);
    if (open[0].fd === previous) reused++;
    previous = open[0].fd;
  }
  // 300 saves of 3 tasks compact every 2 x 3 + 64 - 3 = 67 saves or so: 4 compactions, each then one new open.
  assert.ok(reused >= 290, `${reused} of 300 saves reused the descriptor`);
  // A file renamed over the log by someone else (another process) is noticed: the next line goes to it.
  writeFileSync(join(dir, 'other'), `${JSON.stringify(entry('theirs'))}\n`);
  renameSync(join(dir, 'other'), join(dir, JOURNAL_LOG));
  await j.save(entry('mine'));
  assert.deepEqual([...readJournal(dir).keys()].sort(), ['mine', 'theirs']);
  j.close();
  assert.equal(journalDescriptors(dir).length, 0, 'close gives the descriptor back');
});

test('at most `cap` descriptors stay open over many journals, idle ones are closed, and nothing is lost', async (t) => {
  const root = tempDir(t);
  const files = new AppendFiles({ cap: 2, idleMs: 50 });
  t.after(() => files.closeAll());
  const journals = Array.from({ length: 5 }, (_, i) => new Journal(join(root, `n${i}`), { durable: false, files }));
  for (let round = 0; round < 3; round++) {
    for (const [i, j] of journals.entries()) {
      await j.save(entry(`task-${i}`, { attempt: round }));
      assert.ok(files.size <= 2, `${files.size} open`);
      assert.ok(journals.reduce((n, x) => n + journalDescriptors(x.dir).length, 0) <= 2, 'at most 2 journal descriptors in the process');
    }
  }
  for (const [i, j] of journals.entries()) assert.deepEqual([...readJournal(j.dir).values()].map((x) => [x.taskId, x.attempt]), [[`task-${i}`, 2]]);
  // Unused for a sweep interval: closed by the next sweep.
  const deadline = Date.now() + 10_000;
  while (files.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(files.size, 0, 'idle descriptors closed');
});

/** CountingFiles records each append (path and line count) before doing it. */
class CountingFiles extends AppendFiles {
  readonly writes: number[] = [];
  override append(path: string, data: string, durable: boolean): void {
    this.writes.push(data.split('\n').length - 1);
    super.append(path, data, durable);
  }
}

test('the saves of one event-loop turn are written in one append, each resolving only once its line is in the file', async (t) => {
  const dir = tempDir(t);
  const files = new CountingFiles({ cap: 16, idleMs: 60_000 });
  t.after(() => files.closeAll());
  const j = new Journal(dir, { durable: false, files });
  await j.load();
  const onDisk = (id: string) => readJournal(dir).has(id);
  const seen: boolean[] = [];
  await Promise.all(['a', 'b', 'c'].map((id) => j.save(entry(id)).then(() => seen.push(onDisk(id)))));
  assert.deepEqual(seen, [true, true, true], 'each save resolved with its line written');
  assert.deepEqual(files.writes, [3], 'three saves of one turn: one append of three lines');
  await j.save(entry('a', { phase: 'running' }));
  await j.remove('b');
  assert.deepEqual(files.writes, [3, 1, 1], 'saves of later turns: an append each');
  assert.deepEqual([...(await new Journal(dir).load()).entries()].map(([id, x]) => [id, x.phase]), [['a', 'running'], ['c', 'starting']]);
});

test('a line holds every field of its entry and the spec as saved, also when the spec object was journaled before', () => {
  const spec = makeTask('full', 'img', ['serve']);
  const full: LocalTask = {
    taskId: 'full', templateHash: spec.templateHash, spec, phase: 'stopping', state: 'failed', attempt: 3, containerId: 'full_3', pid: 42, ip: '10.0.0.7',
    restarts: 2, startedAt: '2026-01-01T00:00:00.000Z', finishedAt: '2026-01-01T00:01:00.000Z', exitCode: 1, oomKilled: false, message: 'm', ready: true,
    backoffMs: 2000, restartAt: 99, stopReason: 'liveness', stopDeadline: 123,
  };
  const first = entryLine({ ...full, phase: 'starting' });
  assert.deepEqual(JSON.parse(first), JSON.parse(JSON.stringify({ ...full, phase: 'starting' })));
  assert.deepEqual(JSON.parse(entryLine(full)), JSON.parse(JSON.stringify(full)), 'the second line of one spec object: same spec text, its own fields');
  assert.deepEqual(JSON.parse(entryLine({ ...full, message: undefined, pid: undefined })), JSON.parse(JSON.stringify({ ...full, message: undefined, pid: undefined })));
});
