// cli/bin.js runs the compiled build only while it matches the sources (scripts/build-state.mjs):
// an edited, added or removed source file makes it stale, and bin.js runs the TypeScript instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { currentBuild, sourceFingerprint } from '../../../scripts/build-state.mjs';

test('currentBuild: the build of these sources, none once a source file changes, is added or removed', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'gitcell-build-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'cli'));
  mkdirSync(join(root, 'dist'));
  writeFileSync(join(root, 'cli', 'a.ts'), 'export const a = 1;\n');
  const made = () => writeFileSync(join(root, 'dist', 'current'), `${sourceFingerprint(root)}\n`);
  made();
  assert.equal(currentBuild(root), join(root, 'dist', sourceFingerprint(root)));
  writeFileSync(join(root, 'cli', 'a.ts'), 'export const a = 2;\n'); // same size, later mtime
  utimesSync(join(root, 'cli', 'a.ts'), new Date(), new Date(Date.now() + 5000));
  assert.equal(currentBuild(root), undefined, 'edited');
  made();
  writeFileSync(join(root, 'cli', 'b.ts'), 'export const b = 1;\n');
  assert.equal(currentBuild(root), undefined, 'added');
  made();
  rmSync(join(root, 'cli', 'b.ts'));
  assert.equal(currentBuild(root), undefined, 'removed');
  writeFileSync(join(root, 'cli', 'README.md'), 'docs are not compiled\n');
  made();
  writeFileSync(join(root, 'cli', 'README.md'), 'docs are not compiled, changed\n');
  assert.ok(currentBuild(root), 'a README does not make the build stale');
});

test('the test runner built these sources: cli/bin.js runs the compiled entry', () => {
  const root = join(import.meta.dirname, '..', '..', '..');
  const build = currentBuild(root);
  assert.ok(build, 'scripts/run-tests.mjs builds before the tests run');
  assert.ok(existsSync(join(build, 'cli', 'entry.js')));
  assert.ok(existsSync(join(build, 'crds', 'generated', 'validators.cjs')), 'with the files the modules read next to themselves');
});
