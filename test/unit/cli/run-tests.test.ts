// scripts/run-tests.mjs gives every test file a deadline: a file whose process never exits (a child
// left open keeps it alive) is killed with its process group and fails the run, and the other files
// still run and report.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';

const repo = join(import.meta.dirname, '..', '..', '..');

/**
 * runRunner runs scripts/run-tests.mjs --unit on a scratch tree holding `files` (name → source)
 * under test/unit, with `extraEnv` added, and returns what it printed.
 */
function runRunner(t: TestContext, files: Record<string, string>, extraEnv: Record<string, string>): SpawnSyncReturns<string> {
  const root = mkdtempSync(join(tmpdir(), 'gitcell-run-tests-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'test', 'unit'), { recursive: true });
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
  for (const [name, src] of Object.entries(files)) writeFileSync(join(root, 'test', 'unit', name), src);
  // This file runs under node:test itself; its NODE_TEST_CONTEXT would make the nested files report
  // to it instead of printing.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return spawnSync(process.execPath, [join(repo, 'scripts', 'run-tests.mjs'), '--unit'], {
    cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...env, ...extraEnv },
  });
}

const ENDS = "import { test } from 'node:test';\ntest('passes and ends', () => {});\n";

test('a test file that never exits is killed at its deadline and fails the run', (t) => {
  const run = runRunner(t, {
    'hangs.test.ts': "import { test } from 'node:test';\ntest('passes, then the file keeps running', () => { setInterval(() => {}, 1000); });\n",
    'ends.test.ts': ENDS,
  }, { GITCELL_TEST_FILE_TIMEOUT_S: '25', GITCELL_TEST_CONCURRENCY: '2' });
  assert.equal(run.status, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /hangs\.test\.ts did not end within 25 s; killed/);
  assert.match(run.stdout, /✔ passes, then the file keeps running/, 'the killed file printed what it ran');
  assert.match(run.stdout, /ℹ pass 1\n/, 'the other file ran and reported');
  assert.match(run.stdout, /ℹ files 2, failed 1/);
  assert.match(run.stdout, /✖ test\/unit\/hangs\.test\.ts \(deadline\)/);
});

test('a failed file\'s reasons are repeated next to the summary, where a truncated log still shows them', (t) => {
  const run = runRunner(t, {
    'fails.test.ts': "import { test } from 'node:test';\nimport assert from 'node:assert/strict';\ntest('compares', () => { assert.equal(1, 2, 'the reason: one is not two'); });\n",
    'ends.test.ts': ENDS,
  }, { GITCELL_TEST_CONCURRENCY: '2' });
  assert.equal(run.status, 1, run.stdout + run.stderr);
  const tail = run.stdout.slice(run.stdout.lastIndexOf('▶ '));
  const repeated = tail.indexOf('✖ test/unit/fails.test.ts: why');
  assert.ok(repeated > 0, run.stdout);
  assert.ok(tail.indexOf('the reason: one is not two', repeated) > repeated, 'the assertion message is repeated');
  assert.ok(tail.indexOf('run-tests summary') > repeated, 'before the summary');
});

test('a file whose first line says run-tests: start-early starts before the files ahead of it in path order', (t) => {
  const run = runRunner(t, {
    'a.test.ts': "import { test } from 'node:test';\ntest('a', () => {});\n",
    'z.test.ts': "// run-tests: start-early (long)\nimport { test } from 'node:test';\ntest('z', () => {});\n",
  }, { GITCELL_TEST_CONCURRENCY: '1' });
  assert.equal(run.status, 0, run.stdout + run.stderr);
  const z = run.stdout.indexOf('▶ test/unit/z.test.ts');
  const a = run.stdout.indexOf('▶ test/unit/a.test.ts');
  assert.ok(z >= 0 && a > z, `z (start-early) ran first:\n${run.stdout}`);
});
