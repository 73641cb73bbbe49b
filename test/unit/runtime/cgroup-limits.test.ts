import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { limitCgroupParent, parentLimitFiles } from '../../../runtime/container/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';

const limits = { cpuMillis: 1500, memoryBytes: 2 * 2 ** 30 };

test('parentLimitFiles: v1 writes cpu period and quota and the memory limit; v2 writes cpu.max and memory.max', () => {
  // 1500 millicores over a 100 ms period = 150 ms of CPU time per period
  assert.deepEqual(parentLimitFiles('gitcell/node-1', limits, 'v1', '/cg'), [
    { path: '/cg/cpu/gitcell/node-1/cpu.cfs_period_us', value: '100000' },
    { path: '/cg/cpu/gitcell/node-1/cpu.cfs_quota_us', value: '150000' },
    { path: '/cg/memory/gitcell/node-1/memory.limit_in_bytes', value: '2147483648' },
  ]);
  assert.deepEqual(parentLimitFiles('gitcell/node-1', limits, 'v2', '/cg'), [
    { path: '/cg/gitcell/node-1/cpu.max', value: '150000 100000' },
    { path: '/cg/gitcell/node-1/memory.max', value: '2147483648' },
  ]);
  assert.throws(() => parentLimitFiles('../etc', limits, 'v1'), (e: unknown) => isGitcellError(e, 'E_CONTAINER_INVALID'));
});

test('limitCgroupParent on a v2 layout enables cpu and memory down the path, then writes the limits', () => {
  const root = mkdtempSync(join(tmpdir(), 'gitcell-cg2-'));
  try {
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory pids\n'); // what makes it v2
    const written = limitCgroupParent('gitcell/node-1', limits, root);
    assert.deepEqual(written, [join(root, 'gitcell/node-1/cpu.max'), join(root, 'gitcell/node-1/memory.max')]);
    assert.equal(readFileSync(join(root, 'cgroup.subtree_control'), 'utf8'), '+cpu +memory');
    assert.equal(readFileSync(join(root, 'gitcell/cgroup.subtree_control'), 'utf8'), '+cpu +memory');
    assert.equal(readFileSync(join(root, 'gitcell/node-1/cpu.max'), 'utf8'), '150000 100000');
    assert.throws(() => limitCgroupParent('gitcell/x', { cpuMillis: 0, memoryBytes: 1 }, root), (e: unknown) => isGitcellError(e, 'E_CONTAINER_INVALID'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
