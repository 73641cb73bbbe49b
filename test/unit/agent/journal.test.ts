// The agent's journal (agent/journal.ts): an append-only log whose last line per task wins,
// compacted on load and as it grows, reading entry files of older agents and skipping torn lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Journal, JOURNAL_LOG, readJournal, type LocalTask } from '../../../agent/journal.ts';
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
