// removeCgroupParent on a directory tree laid out like cgroup v1 hierarchies (rmdir removes empty
// directories only, as on cgroupfs): the caller's parent goes, then the ancestors left empty,
// never the shared `gitcell`, never one another node still uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeCgroupParent } from '../../../runtime/index.ts';

test('removeCgroupParent: the node parent, then the cluster parent once its last node is gone; never gitcell', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gitcell-cgroups-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  for (const d of ['memory/gitcell/up-a/node-1', 'memory/gitcell/up-a/node-2', 'cpu/gitcell/up-a/node-1', 'memory/gitcell/up-b/node-1']) mkdirSync(join(root, d), { recursive: true });

  assert.deepEqual(removeCgroupParent('gitcell/up-a/node-1', root), []);
  assert.ok(!existsSync(join(root, 'memory/gitcell/up-a/node-1')) && !existsSync(join(root, 'cpu/gitcell/up-a/node-1')));
  assert.ok(existsSync(join(root, 'memory/gitcell/up-a/node-2')), 'the other node keeps its parent');

  assert.deepEqual(removeCgroupParent('gitcell/up-a/node-2', root), []);
  assert.ok(!existsSync(join(root, 'memory/gitcell/up-a')) && !existsSync(join(root, 'cpu/gitcell/up-a')), 'the last node takes the cluster parent');
  assert.ok(existsSync(join(root, 'memory/gitcell/up-b/node-1')), 'another cluster is untouched');
  assert.ok(existsSync(join(root, 'cpu/gitcell')), 'gitcell is shared by every caller: it stays');
});

test('removeCgroupParent: a parent still holding a container is left, with its ancestors, and named', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gitcell-cgroups-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'memory/gitcell/up-a/node-1/task-1'), { recursive: true });
  // A plain file makes rmdir fail as a populated cgroup does.
  writeFileSync(join(root, 'memory/gitcell/up-a/node-1/task-1/cgroup.procs'), '4242\n');
  const left = removeCgroupParent('gitcell/up-a/node-1', root);
  assert.deepEqual(left, [join(root, 'memory/gitcell/up-a/node-1/task-1'), join(root, 'memory/gitcell/up-a/node-1')]);
  assert.ok(existsSync(join(root, 'memory/gitcell/up-a')));
});
