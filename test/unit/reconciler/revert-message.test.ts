import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutResult } from '../../../api/index.ts';
import { isGitcellError } from '../../../lib/errors.ts';
import { decideAutoRollback, parseRepoSettings, revertMessage, revertedCommitOf, MAX_TASKS_IN_MESSAGE } from '../../../reconciler/git/index.ts';

const C = 'c'.repeat(40);
const rollout = (n: number): RolloutResult => ({
  revision: C,
  object: { kind: 'Job', namespace: 'default', name: 'web' },
  generation: 4,
  templateHash: 'abcdef0123456789',
  reason: 'ProgressDeadlineExceeded',
  message: 'rollout made no progress\nin 60s',
  tasks: Array.from({ length: n }, (_, i) => ({ id: `web-${i}`, node: i % 2 ? 'n2' : undefined, state: 'running' as const, restarts: i, lastError: 'readiness probe failed: HTTP 503' })),
  failedAt: '2026-01-01T00:00:00Z',
});

test('revertMessage names the rollout, the tasks with last errors, and carries the trailer', () => {
  const msg = revertMessage(C, 'web: image v2', [rollout(2)]);
  assert.equal(msg.split('\n')[0], 'Revert "web: image v2"');
  assert.match(msg, new RegExp(`This reverts commit ${C}\\.`));
  assert.match(msg, /Job default\/web \(generation 4, template abcdef012345\): ProgressDeadlineExceeded: rollout made no progress in 60s/);
  assert.match(msg, /- web-0 \(unscheduled\), running: readiness probe failed: HTTP 503/);
  assert.match(msg, /- web-1 on n2, running, 1 restarts: readiness probe failed: HTTP 503/);
  assert.equal(revertedCommitOf(msg), C);
  // A big job lists MAX_TASKS_IN_MESSAGE tasks and counts the rest: 25 - 10 = 15 more.
  const big = revertMessage(C, 's', [rollout(25)]);
  assert.equal(big.split('\n').filter((l) => l.startsWith('- web-')).length, MAX_TASKS_IN_MESSAGE);
  assert.match(big, /\.\.\. and 15 more/);
});

test("revertedCommitOf also reads git's own revert message", () => {
  assert.equal(revertedCommitOf(`Revert "x"\n\nThis reverts commit ${C}.\n`), C);
  assert.equal(revertedCommitOf('fix typo'), undefined);
});

test('.gitcell.yaml settings and per-object opt-out', () => {
  assert.deepEqual(parseRepoSettings('', 'f'), { autoRollback: true });
  assert.deepEqual(parseRepoSettings('autoRollback: false\n', 'f'), { autoRollback: false });
  // The nearer file (sub-path) overrides the root one.
  assert.deepEqual(parseRepoSettings('autoRollback: true\n', 'deploy/.gitcell.yaml', { autoRollback: false }), { autoRollback: true });
  for (const [text, field] of [['autoRollbak: false\n', 'autoRollback'.replace('ck', 'k')], ['autoRollback: "no"\n', 'autoRollback'], ['- 1\n', undefined]] as const) {
    assert.throws(() => parseRepoSettings(text, '.gitcell.yaml'), (e: unknown) => isGitcellError(e, 'E_BAD_SETTINGS') && e.data.field === field && e.message.startsWith('.gitcell.yaml: '));
  }
  assert.deepEqual(decideAutoRollback({ autoRollback: true }, [{ key: 'Job/default/web', annotations: {} }]), { revert: true, to: 'followed' });
  // autoRollback: branch (protected branches), from the file or the reconciler's flag; off wins.
  assert.deepEqual(parseRepoSettings('autoRollback: branch\n', 'f'), { autoRollback: 'branch' });
  assert.deepEqual(decideAutoRollback({ autoRollback: 'branch' }, []), { revert: true, to: 'branch' });
  assert.deepEqual(decideAutoRollback({ autoRollback: true }, [], 'branch'), { revert: true, to: 'branch' });
  assert.equal(decideAutoRollback({ autoRollback: false }, [], 'branch').revert, false);
  assert.equal(decideAutoRollback({ autoRollback: 'branch' }, [], 'off').revert, false);
  const off = decideAutoRollback({ autoRollback: true }, [{ key: 'Job/default/web', annotations: { 'gitcell.io/auto-rollback': 'false' } }]);
  assert.equal(off.revert, false);
  assert.match((off as { reason: string }).reason, /Job\/default\/web/);
  assert.equal(decideAutoRollback({ autoRollback: false }, []).revert, false);
});
