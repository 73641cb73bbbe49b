// `gitcell schedule --dry-run` on files: the preview, its exit codes and its input errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScheduleResult } from '../../../scheduler/index.ts';
import { FilterInsufficientMemory, FilterUntoleratedTaint } from '../../../scheduler/index.ts';

const run = promisify(execFile);
const bin = join(import.meta.dirname, '../../../cli/bin.js');

const SNAPSHOT = `
nodes:
  - name: a
    allocatable: {cpuMillis: 4000, memoryBytes: 17179869184}
  - name: b
    allocatable: {cpuMillis: 4000, memoryBytes: 17179869184}
    taints: [{key: gpu, effect: NoSchedule}]
running:
  - node: a
    task: {id: old-0, jobKey: Job/x/old, priority: 50, template: {image: x, resources: {requests: {cpuMillis: 3000, memoryBytes: 1073741824}}}}
`;
const task = (id: string, priority: number, cpuMillis: number, memoryBytes: number) => ({ id, jobKey: `Job/default/${id}`, priority, template: { image: 'i', resources: { requests: { cpuMillis, memoryBytes } } } });

async function files(t: import('node:test').TestContext, tasks: unknown, snapshot = SNAPSHOT): Promise<{ snap: string; tasks: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'gitcell-schedule-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'snap.yaml'), snapshot);
  await writeFile(join(dir, 'tasks.json'), JSON.stringify(tasks));
  return { snap: join(dir, 'snap.yaml'), tasks: join(dir, 'tasks.json') };
}

test('schedule --dry-run --json previews placements and preemptions from files, exit 0 when all fit', async (t) => {
  const f = await files(t, [task('web-0', 200, 2000, 1024 ** 3)]);
  const { stdout } = await run(process.execPath, [bin, 'schedule', '--dry-run', '--snapshot', f.snap, '--tasks', f.tasks, '--json']);
  const result = JSON.parse(stdout) as ScheduleResult;
  // b is tainted; a has 1000m free, so web-0 (2000m, priority 200) evicts old-0 (priority 50).
  assert.deepEqual(result.placements.map((p) => [p.taskId, p.node, p.victims]), [['web-0', 'a', ['old-0']]]);
  assert.deepEqual(result.preemptions.map((p) => p.taskId), ['old-0']);
});

test('schedule --dry-run prints why a task would wait and exits 1', async (t) => {
  const f = await files(t, { tasks: [task('big-0', 10, 100, 64 * 1024 ** 3)] });
  const err = await run(process.execPath, [bin, 'schedule', '--dry-run', '--snapshot', f.snap, '--tasks', f.tasks]).catch((e: { code: number; stdout: string }) => e);
  assert.equal((err as { code: number }).code, 1);
  assert.match((err as { stdout: string }).stdout, new RegExp(`0/2 nodes fit: 1 ${FilterInsufficientMemory}, 1 ${FilterUntoleratedTaint}`));
  assert.match((err as { stdout: string }).stdout, /0 placed, 1 waiting, 0 preempted, on 2 nodes \(dry run: nothing written\)/);
});

test('schedule names the file, field and reason of bad input, without a stack trace', async (t) => {
  const f = await files(t, [{ id: 'x', jobKey: 'j', priority: 1, template: { resources: { requests: { cpuMillis: 'lots', memoryBytes: 1 } } } }]);
  const err = (await run(process.execPath, [bin, 'schedule', '--dry-run', '--snapshot', f.snap, '--tasks', f.tasks]).catch((e) => e)) as { code: number; stderr: string };
  assert.equal(err.code, 1);
  assert.equal(err.stderr.trim(), `gitcell: ${f.tasks}: tasks[0].template.resources.requests.cpuMillis: must be a number >= 0 [E_SCHEDULE_INPUT]`);
  const g = await files(t, [], 'nodes: [{name: a, allocatable: {cpuMillis: 1, memoryBytes: 1}}, {name: a, allocatable: {cpuMillis: 1, memoryBytes: 1}}]');
  const err2 = (await run(process.execPath, [bin, 'schedule', '--dry-run', '--snapshot', g.snap, '--tasks', g.tasks]).catch((e) => e)) as { code: number; stderr: string };
  assert.match(err2.stderr, /snap.yaml: nodes\[1\].name: duplicate node name "a" \[E_SCHEDULE_INPUT\]/);
  const err3 = (await run(process.execPath, [bin, 'schedule', '--mode', 'tight', '--snapshot', g.snap]).catch((e) => e)) as { code: number; stderr: string };
  assert.equal(err3.code, 2);
  assert.match(err3.stderr, /--mode: "tight" is not one of spread, pack, hybrid/);
});
