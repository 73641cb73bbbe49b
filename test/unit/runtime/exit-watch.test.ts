// ExitWatch: many waits over one directory watch and one tick; settles each wait once, on an inotify
// event or the tick, and lets go of both when nothing is waited (the file's process must end).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitWatch, type Verdict } from '../../../runtime/container/exit-watch.ts';

test('waits settle from an exit file event, a failure verdict or a timeout, each once', async () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'gitcell-exits-'));
  try {
    const state = new Map<string, Verdict<number>>();
    let checks = 0;
    const w = new ExitWatch<number>(dir, (id) => { checks++; return state.get(id); });
    const a1 = w.wait('a', undefined, () => new Error('timeout'));
    const a2 = w.wait('a', undefined, () => new Error('timeout'));
    const lost = assert.rejects(w.wait('b', undefined, () => new Error('timeout')), /monitor lost/);
    const slow = assert.rejects(w.wait('c', 50, () => new Error('timed out c')), /timed out c/);
    state.set('a', { done: 7 });
    fs.writeFileSync(join(dir, 'a'), '7'); // what conmon's --exit-dir does
    assert.deepEqual(await Promise.all([a1, a2]), [7, 7], 'both waiters of one container get its exit');
    state.set('b', { failed: new Error('monitor lost') });
    await lost; // no event for b: the tick finds it
    await slow;
    assert.ok(checks >= 3);
    assert.equal(await w.wait('a', undefined, () => new Error('timeout')), 7, 'an exit before the wait is seen at once');
    void w.wait('never', undefined, () => new Error('timeout'));
    w.close(); // a stopping agent: the pending wait's watch and tick go, so this file's process can end
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
