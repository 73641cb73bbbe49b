import { test } from 'node:test';
import assert from 'node:assert/strict';
import { priorityValue, priorityBand, PRIORITY_BANDS, PRIORITY_BAND_NAMES, PRIORITY_MAX, isValidName, objectKey } from '../../../api/index.ts';

test('priority bands tile 0..1000 in order without gaps or overlaps', () => {
  let next = 0;
  for (const name of PRIORITY_BAND_NAMES) {
    const band = PRIORITY_BANDS[name];
    assert.equal(band.min, next, `${name} starts where the previous band ended`);
    assert.ok(band.max >= band.min);
    next = band.max + 1;
  }
  assert.equal(next, PRIORITY_MAX + 1);
});

test('priorityValue and priorityBand agree for every integer and band', () => {
  for (let n = 0; n <= PRIORITY_MAX; n++) {
    const band = priorityBand(n);
    assert.ok(n >= PRIORITY_BANDS[band].min && n <= PRIORITY_BANDS[band].max);
    assert.equal(priorityValue(n), n);
  }
  for (const name of PRIORITY_BAND_NAMES) assert.equal(priorityBand(priorityValue(name)), name);
  assert.equal(priorityValue('best-effort'), 0);
  assert.equal(priorityBand(1000), 'monitoring');
  assert.ok(priorityValue('monitoring') > priorityValue('production'));
  assert.ok(priorityValue('production') > priorityValue('batch'));
  assert.ok(priorityValue('batch') > priorityValue('best-effort'));
});

test('priorities outside 0..1000 or unknown bands throw RangeError', () => {
  for (const n of [-1, 1001, 1.5, Number.NaN]) {
    assert.throws(() => priorityBand(n), RangeError);
    assert.throws(() => priorityValue(n), RangeError);
  }
  assert.throws(() => priorityValue('urgent' as never), RangeError);
});

test('isValidName accepts DNS labels only (no dots: names are NATS KV key tokens)', () => {
  for (const ok of ['a', 'web', 'web-1', '0', 'a'.repeat(63), '1abc']) assert.ok(isValidName(ok), ok);
  for (const bad of ['', 'Web', 'web.1', '-web', 'web-', 'web_1', 'a'.repeat(64), 'wéb', ' web', 'a/b', 'a*', '>', 5, null]) {
    assert.ok(!isValidName(bad), String(bad));
  }
  assert.equal(objectKey({ kind: 'Job', metadata: { name: 'web' } }), 'Job/default/web');
  assert.equal(objectKey({ kind: 'Job', metadata: { name: 'web', namespace: 'prod' } }), 'Job/prod/web');
});
