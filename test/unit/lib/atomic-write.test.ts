import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tempPathFor, writeFileAtomic, writeFileAtomicSync } from '../../../lib/index.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gitcell-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('writeFileAtomic replaces the file and leaves no temp file behind', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state.json');
  await writeFileAtomic(file, 'one');
  await writeFileAtomic(file, 'two');
  assert.equal(readFileSync(file, 'utf8'), 'two');
  assert.deepEqual(readdirSync(dir), ['state.json']);
});

test('concurrent writers of one file never collide: the file is always one whole write', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'state.json');
  const bodies = Array.from({ length: 40 }, (_, i) => JSON.stringify({ writer: i, pad: 'x'.repeat(64 * 1024) }));
  // With a fixed `${path}.tmp` these writes interleave in one temp file and some renames fail (ENOENT).
  await Promise.all(bodies.map((b) => writeFileAtomic(file, b)));
  const got = readFileSync(file, 'utf8');
  assert.ok(bodies.includes(got), 'the file is exactly one of the writes');
  assert.deepEqual(readdirSync(dir), ['state.json']);
});

test('mode is exact whatever the umask, sync and async', async (t) => {
  const dir = tempDir(t);
  const old = process.umask(0o077);
  try {
    await writeFileAtomic(join(dir, 'a'), 'x', { mode: 0o640 });
    writeFileAtomicSync(join(dir, 'b'), 'y', { mode: 0o600 });
  } finally {
    process.umask(old);
  }
  assert.equal(statSync(join(dir, 'a')).mode & 0o777, 0o640);
  assert.equal(statSync(join(dir, 'b')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(dir, 'b'), 'utf8'), 'y');
});

test('a failed write leaves the old file and no temp file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'missing-dir', 'f');
  await assert.rejects(writeFileAtomic(file, 'x'), /ENOENT/);
  assert.throws(() => writeFileAtomicSync(file, 'x'), /ENOENT/);
  assert.deepEqual(readdirSync(dir), []);
  assert.notEqual(tempPathFor(file), tempPathFor(file), 'temp names differ per call');
});
