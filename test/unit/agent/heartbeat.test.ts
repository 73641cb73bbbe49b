import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RENEWAL_CHECK_EVERY, renewalIsChecked } from '../../../agent/heartbeat.ts';

test('one lease renewal in RENEWAL_CHECK_EVERY waits for its acknowledgement: the first, then every 4th', () => {
  assert.equal(RENEWAL_CHECK_EVERY, 4);
  // unchecked = renewals sent without acknowledgement since the last acknowledged one (undefined: none yet, or the last failed)
  const cases: [number | undefined, boolean][] = [[undefined, true], [0, false], [1, false], [2, false], [3, true], [7, true]];
  for (const [unchecked, want] of cases) assert.equal(renewalIsChecked(unchecked), want, `after ${unchecked} unchecked`);
  // A run of renewals from a fresh agent: checked, 3 sent, checked, 3 sent.
  let unchecked: number | undefined;
  const run: boolean[] = [];
  for (let i = 0; i < 8; i++) {
    const checked = renewalIsChecked(unchecked);
    run.push(checked);
    unchecked = checked ? 0 : (unchecked ?? 0) + 1;
  }
  assert.deepEqual(run, [true, false, false, false, true, false, false, false]);
});
