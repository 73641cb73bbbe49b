// A layer's unpack shares its process's thread (`gitcell up` runs three agents in one process, and
// each unpacks the sample image while it waits for its subnet): it must give the event loop a turn
// while it applies entries, not hold it from the first entry to the last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { unpackLayer } from '../../../runtime/snapshot/index.ts';
import { buildTar, type TarEntry } from '../../helpers/tar.ts';

test('an unpack of many small entries lets a timer run before it ends', async () => {
  const base = fs.mkdtempSync(join(tmpdir(), 'gitcell-unpack-yields-'));
  try {
    // Symlinks, as busybox's applets: no file data, so nothing of the unpack waits on the thread pool.
    const entries: TarEntry[] = [{ name: 'bin', type: 'directory' }, { name: 'bin/busybox', content: 'x' }];
    for (let i = 0; i < 2000; i++) entries.push({ name: `bin/applet${i}`, type: 'symlink', linkname: 'busybox' });
    const layer = await buildTar(entries);
    let applied = -1;
    const root = join(base, 'root');
    fs.mkdirSync(root);
    const timer = new Promise<void>((resolve) => setTimeout(() => {
      applied = fs.readdirSync(join(root, 'bin')).length;
      resolve();
    }, 0));
    const result = await unpackLayer(Readable.from([layer]), root, { gzip: false, layer: 'applets' });
    await timer;
    assert.equal(result.entries, 2002);
    assert.ok(applied >= 0 && applied < 2001, `the timer ran only after the whole unpack (${applied} entries in bin/)`);
  } finally {
    fs.rmSync(base, { recursive: true, force: true });
  }
});
