import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirIfExists, readdirSyncOrEmpty, readFileNoFollow } from '../../../lib/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'gitcell-lib-fs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('readdirIfExists lists entries, returns none for a missing dir, and throws on anything else', async () => {
  writeFileSync(join(dir, 'a'), '');
  assert.deepEqual(await readdirIfExists(dir), ['a']);
  assert.deepEqual(await readdirIfExists(join(dir, 'missing')), []);
  await assert.rejects(readdirIfExists(join(dir, 'a')), (e) => (e as NodeJS.ErrnoException).code === 'ENOTDIR');
});

test('readdirSyncOrEmpty reads any unreadable directory as empty', () => {
  writeFileSync(join(dir, 'b'), '');
  assert.ok(readdirSyncOrEmpty(dir).includes('b'));
  assert.deepEqual(readdirSyncOrEmpty(join(dir, 'missing')), []);
  assert.deepEqual(readdirSyncOrEmpty(join(dir, 'b')), [], 'a file is not a directory');
});

test('readFileNoFollow reads a file but refuses a symlink in the last component', () => {
  writeFileSync(join(dir, 'real'), 'content');
  symlinkSync(join(dir, 'real'), join(dir, 'link'));
  assert.equal(readFileNoFollow(join(dir, 'real')), 'content');
  assert.throws(() => readFileNoFollow(join(dir, 'link')), (e) => (e as NodeJS.ErrnoException).code === 'ELOOP');
});
