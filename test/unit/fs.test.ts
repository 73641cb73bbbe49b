import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirIfExists } from '../../lib/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'gitcell-lib-fs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('readdirIfExists lists entries, returns none for a missing dir, and throws on anything else', async () => {
  writeFileSync(join(dir, 'a'), '');
  assert.deepEqual(await readdirIfExists(dir), ['a']);
  assert.deepEqual(await readdirIfExists(join(dir, 'missing')), []);
  await assert.rejects(readdirIfExists(join(dir, 'a')), (e) => (e as NodeJS.ErrnoException).code === 'ENOTDIR');
});
