// The transfer display of `gitcell image pull|push`: human units, rate and ETA; plain lines without
// escape sequences when stderr is not a terminal (and none at all for quick transfers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barOf, formatBytes, formatDuration, plainProgress, transferFigures, ttyLine } from '../../../cli/progress.ts';

test('formatBytes and formatDuration use human units', () => {
  assert.deepEqual([0, 512, 1536, 40 * 2 ** 20, 1.5 * 2 ** 30, 123.4 * 2 ** 20].map(formatBytes), ['0 B', '512 B', '1.50 KiB', '40.0 MiB', '1.50 GiB', '123 MiB']);
  assert.deepEqual([0, 42_000, 185_000, 7_620_000].map(formatDuration), ['0s', '42s', '3m05s', '2h07m']);
});

test('rate counts only this run\'s bytes (a resumed download) and ETA follows from it', () => {
  const t = { label: 'abc', total: 40 * 2 ** 20, done: 30 * 2 ** 20, startDone: 10 * 2 ** 20, startedAt: 0 };
  // 20 MiB in 10 s = 2 MiB/s; 10 MiB left = 5 s.
  assert.deepEqual(transferFigures(t, 10_000), { percent: '75%', amount: '30.0 MiB / 40.0 MiB', rate: '2.00 MiB/s', eta: 'ETA 5s' });
  assert.deepEqual(transferFigures({ ...t, done: t.startDone }, 10), { percent: '25%', amount: '10.0 MiB / 40.0 MiB', rate: '--/s', eta: 'ETA --' });
  assert.equal(barOf(0.5, 10), '[=====>    ]');
  assert.equal(barOf(1, 4), '[====]');
  assert.equal(ttyLine('pull', t, 10_000), 'pull abc [===============>    ]  75%  30.0 MiB / 40.0 MiB  2.00 MiB/s  ETA 5s');
});

test('not a terminal: a quick transfer prints nothing, a slow one plain progress lines and a done line, never an escape', () => {
  let clock = 0;
  const out: string[] = [];
  const p = plainProgress('pull', { write: (l) => out.push(l), now: () => clock });
  p.start('sha256:quick', 'quick0000000', 1000, 0);
  p.advance('sha256:quick', 1000);
  clock = 100;
  p.finish('sha256:quick', 'done');
  assert.deepEqual(out, []);
  p.start('sha256:slow', 'slow00000000', 8 * 2 ** 20, 0);
  clock = 4100;
  p.advance('sha256:slow', 4 * 2 ** 20);
  p.tick();
  clock = 8100;
  p.advance('sha256:slow', 4 * 2 ** 20);
  p.finish('sha256:slow', 'done');
  p.tick();
  p.stop();
  assert.deepEqual(out, ['pull slow00000000 4.00 MiB / 8.00 MiB (50%) 1.00 MiB/s ETA 4s\n', 'pull slow00000000 done: 8.00 MiB in 8s (1.00 MiB/s)\n']);
  assert.ok(!out.join('').includes('\x1b'));
});
